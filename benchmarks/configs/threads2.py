"""ThreadPoolExecutor with two threads and default logging: the core throughput target."""
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor

config = Config(executors=[ThreadPoolExecutor(max_threads=2)])

"""HighThroughputExecutor with two workers on this machine, default settings
(``prefetch_capacity=0``; see ``htex_local2_prefetch4.py`` for the setting Parsl advises
for many short tasks).

Used with ``parsl-perf --config benchmarks/configs/htex_local2.py`` to measure end-to-end
HTEX throughput (see packages/htex/benchmarks/htex_perf.py for the fuller benchmark).
"""
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

config = Config(executors=[HighThroughputExecutor(
    max_workers_per_node=2,
    provider=LocalProvider(init_blocks=1, max_blocks=1))])

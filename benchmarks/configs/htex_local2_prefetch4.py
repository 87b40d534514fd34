"""HighThroughputExecutor with two workers and ``prefetch_capacity=4``, otherwise default.

Parsl's advice for many short tasks is a small ``prefetch_capacity``: each manager then
keeps the next tasks at hand instead of waiting a round trip to the interchange after
every task. Compare with ``htex_local2.py`` (the default, 0)::

    parsl-perf --config benchmarks/configs/htex_local2_prefetch4.py --time 5 --repeat 3
"""
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

config = Config(executors=[HighThroughputExecutor(
    max_workers_per_node=2,
    prefetch_capacity=4,
    provider=LocalProvider(init_blocks=1, max_blocks=1))])

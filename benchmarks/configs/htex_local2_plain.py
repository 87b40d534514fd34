"""``htex_local2.py`` with ``encrypted=False``: Parsl's default (real Parsl reads it
unchanged), and this project's plain-TCP manager transport.

Used with ``packages/htex/benchmarks/htex_vs_parsl.py --config`` to compare both
implementations with the same transport security (none).
"""
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

config = Config(executors=[HighThroughputExecutor(
    max_workers_per_node=2, encrypted=False,
    provider=LocalProvider(init_blocks=1, max_blocks=1))])

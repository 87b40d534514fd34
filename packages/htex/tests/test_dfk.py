"""HTEX through parsl.load(): the way users run it."""
from __future__ import annotations

import os

import pytest
from htex_support import WORKER_INIT, htex_processes, wait_for

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

pytestmark = pytest.mark.slow


@parsl.python_app
def square(x: int) -> int:
    return x * x


@parsl.bash_app
def rank_to_file(stdout: str = "") -> str:
    return "echo rank=$PARSL_WORKER_RANK"


def test_python_and_bash_apps_run_and_shutdown_cleans_up(tmp_path):
    ex = HighThroughputExecutor(label="htex", address="127.0.0.1", max_workers_per_node=2,
                                provider=LocalProvider(init_blocks=1, max_blocks=1,
                                                       worker_init=WORKER_INIT))
    config = Config(executors=[ex], run_dir=str(tmp_path / "runinfo"))
    out = str(tmp_path / "rank.out")
    with parsl.load(config):
        assert [f.result(timeout=60) for f in [square(i) for i in range(50)]] == [
            i * i for i in range(50)]
        rank_to_file(stdout=out).result(timeout=60)
        chained = square(square(2))
        assert chained.result(timeout=60) == 16
    assert open(out).read().startswith("rank=")
    assert os.path.exists(os.path.join(ex.run_dir, "htex", "interchange.log"))
    wait_for(lambda: not htex_processes(ex.run_dir, ex), timeout=20, what="processes to exit")

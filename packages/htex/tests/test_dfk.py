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


def test_executor_binding_records_carry_parsls_names_and_htex_task_ids_from_1(
        tmp_path, caplog):
    """Scripts reading Parsl's records find HTEX under Parsl's class path and a task's
    binding to its HTEX task id, which starts at 1 as in Parsl."""
    ex = HighThroughputExecutor(label="htex_binds", address="127.0.0.1",
                                max_workers_per_node=1,
                                provider=LocalProvider(init_blocks=1, max_blocks=1,
                                                       worker_init=WORKER_INIT))
    with caplog.at_level("INFO", logger="parsl"):
        with parsl.load(Config(executors=[ex], run_dir=str(tmp_path / "runinfo"))):
            fut = square(3)
            assert fut.result(timeout=60) == 9
    types = {r.__dict__["parsl.executor.type"] for r in caplog.records
             if r.__dict__.get("parsl.executor.label") == "htex_binds"}
    assert types == {"parsl.executors.high_throughput.executor.HighThroughputExecutor"}
    binds = [r.__dict__["parsl.executor_task"] for r in caplog.records
             if r.__dict__.get("parsl.task") == fut.tid and "parsl.executor_task" in r.__dict__]
    assert binds == [1]

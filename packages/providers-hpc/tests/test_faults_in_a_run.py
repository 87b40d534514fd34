"""A scheduler that refuses every block fails that executor's tasks with sbatch's own
words, in the task error and in parsl.log, while the run's other executors keep working.

Uses a stand-in sbatch (see conftest.StandIns) that exits non-zero with an error message,
because real Slurm cannot be made to refuse every submission on demand.
"""
from __future__ import annotations

import os

import pytest

import parsl
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor
from parsl.launchers.launchers import SimpleLauncher
from parsl_hpc.slurm import SlurmProvider

pytestmark = pytest.mark.slow


def test_refused_blocks_fail_their_tasks_and_other_executors_keep_running(stand_ins, tmp_path):
    parsl_htex = pytest.importorskip("parsl_htex")
    stand_ins.add("sbatch", stderr="sbatch: error: Batch job submission failed: "
                  "Invalid account or account/partition combination specified", exit_code=1)
    provider = SlurmProvider(exclusive=False, launcher=SimpleLauncher(), cmd_timeout=5,
                             init_blocks=1, min_blocks=0, max_blocks=1)
    htex = parsl_htex.HighThroughputExecutor(label="refused", provider=provider,
                                             address="127.0.0.1")
    config = Config(executors=[htex, ThreadPoolExecutor(label="local")],
                    run_dir=str(tmp_path / "runinfo"), strategy_period=0.2)

    @parsl.python_app(executors=["refused"])
    def on_slurm():
        return "ran"

    @parsl.python_app(executors=["local"])
    def on_threads(x):
        return x * 2

    with parsl.load(config) as dfk:
        doomed = on_slurm()
        error = doomed.exception(timeout=60)
        assert error is not None
        assert "Invalid account" in str(error)
        assert [on_threads(i).result(timeout=30) for i in range(3)] == [0, 2, 4]
        log_path = os.path.join(dfk.run_dir, "parsl.log")
    log = open(log_path).read()
    assert "sbatch" in log and "Invalid account" in log

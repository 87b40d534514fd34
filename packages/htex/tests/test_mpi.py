"""MPIExecutor runs real MPI jobs with Open MPI's mpiexec on this node.

Needs ``mpiexec.openmpi`` (``.ci/setup-mpi.sh`` installs it). The workers' PATH gets a
folder where ``mpiexec`` is Open MPI's, whatever /usr/bin/mpiexec points to on this machine,
and their environment allows Open MPI to run as root (CI runs as root and Open MPI refuses
that unless OMPI_ALLOW_RUN_AS_ROOT and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM are set).
"""
from __future__ import annotations

import os
import re
import shutil
from typing import Any, Dict, Iterator, List

import pytest
from htex_support import WORKER_INIT, htex_processes, wait_for

import parsl
from parsl.config import Config
from parsl.executors import MPIExecutor
from parsl.executors.errors import InvalidResourceSpecification
from parsl.providers import LocalProvider

pytestmark = [pytest.mark.mpi, pytest.mark.slow]

OPENMPI = shutil.which("mpiexec.openmpi")


@parsl.bash_app
def mpi_hello(stdout: str = "", parsl_resource_specification: Dict[str, Any] = {}) -> str:  # noqa: B006
    return ('echo "num_ranks=$PARSL_NUM_RANKS"; '
            "$PARSL_MPI_PREFIX bash -c 'echo rank=$OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE'")


@parsl.python_app
def mpi_variables(parsl_resource_specification: Dict[str, Any] = {}) -> Dict[str, str]:  # noqa: B006
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("PARSL_")}


@pytest.fixture(scope="module")
def mpi_dfk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MPIExecutor]:
    if OPENMPI is None:
        pytest.skip("SKIPPED LOUDLY: mpiexec.openmpi is not installed; run .ci/setup-mpi.sh "
                    "to test MPIExecutor with a real MPI launcher")
    root = tmp_path_factory.mktemp("mpi")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    os.symlink(OPENMPI, bin_dir / "mpiexec")
    worker_init = (f"{WORKER_INIT}; export PATH={bin_dir}:$PATH OMPI_ALLOW_RUN_AS_ROOT=1 "
                   "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
    ex = MPIExecutor(address="127.0.0.1", max_workers_per_block=1,
                     provider=LocalProvider(init_blocks=1, max_blocks=1,
                                            worker_init=worker_init))
    with parsl.load(Config(executors=[ex], run_dir=str(root / "runinfo"))):
        ex.test_root = root  # type: ignore[attr-defined]
        yield ex
    wait_for(lambda: not htex_processes(ex.run_dir, ex), timeout=20,
             what="every MPIExecutor process to exit")


def _ranks(path: str) -> List[str]:
    return re.findall(r"^rank=(\d+) of (\d+)$", open(path).read(), re.MULTILINE)


def test_bash_app_runs_every_rank_of_its_mpi_job(mpi_dfk):
    out = str(mpi_dfk.test_root / "two_ranks.out")
    spec = {"num_nodes": 1, "ranks_per_node": 2}
    mpi_hello(stdout=out, parsl_resource_specification=spec).result(timeout=120)
    assert sorted(_ranks(out)) == [("0", "2"), ("1", "2")]
    assert "num_ranks=2" in open(out).read()


def test_num_ranks_and_launcher_options_reach_mpiexec(mpi_dfk):
    out = str(mpi_dfk.test_root / "three_ranks.out")
    spec = {"num_ranks": 3, "launcher_options": "--oversubscribe --tag-output"}
    mpi_hello(stdout=out, parsl_resource_specification=spec).result(timeout=120)
    text = open(out).read()
    assert sorted(rank for rank, _ in re.findall(r"rank=(\d+) of (\d+)", text)) == ["0", "1", "2"]
    # --tag-output makes Open MPI prefix each line with the job and rank: proof the option
    # reached the launcher.
    assert re.search(r"^\[\d+,\d+\]<stdout>:rank=", text, re.MULTILINE)


def test_python_app_sees_the_mpi_environment_of_its_specification(mpi_dfk):
    env = mpi_variables(parsl_resource_specification={"num_nodes": 1, "ranks_per_node": 2,
                                                      "launcher_options": "-v"}).result(
        timeout=60)
    assert env["PARSL_NUM_RANKS"] == "2"
    assert env["PARSL_NUM_NODES"] == "1"
    assert env["PARSL_RANKS_PER_NODE"] == "2"
    assert env["PARSL_MPI_PREFIX"] == "mpiexec -n 2 -v"


def test_each_task_gets_the_environment_of_its_own_specification(mpi_dfk):
    first = {"num_ranks": 2, "launcher_options": "-v"}
    assert mpi_variables(parsl_resource_specification=first).result(
        timeout=60)["PARSL_MPI_PREFIX"] == "mpiexec -n 2 -v"
    env = mpi_variables(parsl_resource_specification={"num_ranks": 1}).result(timeout=60)
    assert env["PARSL_MPI_PREFIX"] == "mpiexec -n 1" and env["PARSL_NUM_RANKS"] == "1"


def test_task_without_resource_specification_is_refused(mpi_dfk):
    """As in Parsl: MPI mode needs every task's resource specification."""
    from parsl.executors.high_throughput.mpi_prefix_composer import (
        MissingResourceSpecification,
    )

    with pytest.raises(MissingResourceSpecification, match="parsl_resource_specification"):
        mpi_variables().result(timeout=60)


def test_inconsistent_rank_counts_are_refused(mpi_dfk):
    spec = {"num_nodes": 1, "ranks_per_node": 2, "num_ranks": 3}
    with pytest.raises(InvalidResourceSpecification, match="num_ranks"):
        mpi_variables(parsl_resource_specification=spec).result(timeout=60)

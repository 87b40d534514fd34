"""MPI mode's node allocation and launch prefixes, without launching MPI: python apps
read what their worker gave them. A block's nodes come from a PBS_NODEFILE written by the
test (fake host names: nothing runs on them), as a PBS batch job would give them."""
from __future__ import annotations

import socket
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from htex_support import WORKER_INIT, htex_processes, wait_for

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor, MPIExecutor
from parsl.executors.errors import InvalidResourceSpecification
from parsl.launchers import AprunLauncher, SimpleLauncher, SrunLauncher
from parsl.providers import LocalProvider, SlurmProvider
from parsl_htex.mpi_nodes import (
    compose_all,
    compose_aprun_launch_cmd,
    compose_mpiexec_launch_cmd,
    compose_srun_launch_cmd,
)

SPEC = {"num_nodes": 2, "num_ranks": 8, "ranks_per_node": 4}
NODES = ["n001", "n002", "n003", "n004"]


@parsl.python_app
def held_nodes(seconds: float,
               parsl_resource_specification: Dict[str, Any] = {}) -> Tuple[List[str], float, float, Dict[str, str]]:  # noqa: B006,E501
    import os
    import time

    start = time.monotonic()
    time.sleep(seconds)
    env = {k: v for k, v in os.environ.items() if k.startswith("PARSL_")}
    return os.environ["PARSL_MPI_NODELIST"].split(","), start, time.monotonic(), env


@pytest.fixture(scope="module")
def pbs_block(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MPIExecutor]:
    root = tmp_path_factory.mktemp("mpi_nodes")
    nodefile = root / "pbs_nodefile"
    # PBS lists a node once per core; each node counts once.
    nodefile.write_text("".join(f"{n}\n{n}\n" for n in NODES))
    ex = MPIExecutor(address="127.0.0.1", max_workers_per_block=3, mpi_launcher="srun",
                     provider=LocalProvider(init_blocks=1, max_blocks=1,
                                            launcher=SimpleLauncher(),
                                            worker_init=f"{WORKER_INIT}; "
                                                        f"export PBS_NODEFILE={nodefile}"))
    with parsl.load(Config(executors=[ex], run_dir=str(root / "runinfo"))):
        yield ex
    wait_for(lambda: not htex_processes(ex.run_dir, ex), timeout=20,
             what="every MPIExecutor process to exit")


def test_prefixes_name_their_launcher_and_hosts() -> None:
    assert compose_mpiexec_launch_cmd(SPEC, ["a", "b"]) == (
        "PARSL_MPIEXEC_PREFIX", "mpiexec -n 8 -ppn 4 -hosts a,b")
    assert compose_srun_launch_cmd(SPEC, ["a", "b"]) == (
        "PARSL_SRUN_PREFIX", "srun -N 2 -n 8 --ntasks-per-node 4 --nodelist=a,b")
    assert compose_aprun_launch_cmd({**SPEC, "launcher_options": "--cc depth"}, ["a", "b"]) == (
        "PARSL_APRUN_PREFIX", "aprun -n 8 -N 4 -node-list a,b --cc depth")
    table = compose_all("aprun", SPEC, ["a", "b"])
    assert table["PARSL_MPI_PREFIX"] == table["PARSL_APRUN_PREFIX"]
    assert table["PARSL_MPI_NODELIST"] == "a,b" and table["PARSL_NUM_RANKS"] == "8"
    with pytest.raises(ValueError, match="mpirun"):
        compose_all("mpirun", SPEC, ["a"])


def test_mpi_executor_takes_htex_parameters_but_not_per_node_worker_ones() -> None:
    """Parsl's rule: MPIExecutor = HTEX's parameters - per-node worker settings +
    max_workers_per_block and mpi_launcher."""
    from inspect import signature

    htex = set(signature(HighThroughputExecutor.__init__).parameters)
    mpi = set(signature(MPIExecutor.__init__).parameters)
    per_node = {"available_accelerators", "cores_per_worker", "max_workers_per_node",
                "mem_per_worker", "cpu_affinity", "manager_selector"}
    assert mpi - htex == {"max_workers_per_block", "mpi_launcher"}
    assert (mpi | per_node) - {"max_workers_per_block", "mpi_launcher"} == htex


@pytest.mark.parametrize("launcher", [SrunLauncher(), AprunLauncher()])
def test_block_launcher_that_starts_a_manager_per_node_is_refused(launcher) -> None:
    with pytest.raises(TypeError, match="SimpleLauncher"):
        MPIExecutor(provider=SlurmProvider(launcher=launcher))


def test_unknown_mpi_launcher_is_refused_as_a_value_error() -> None:
    with pytest.raises(ValueError, match="mpi_launcher"):
        MPIExecutor(mpi_launcher="mpirun", provider=SlurmProvider(launcher=SimpleLauncher()))


@pytest.mark.slow
def test_tasks_get_their_count_of_nodes_and_never_share_one(pbs_block) -> None:
    specs = [{"num_nodes": n, "ranks_per_node": 2} for n in (1, 2, 4, 3, 1, 2, 2, 1, 4, 3)]
    futures = [held_nodes(0.2, parsl_resource_specification=s) for s in specs]
    results = [f.result(timeout=120) for f in futures]
    for spec, (nodes, _, _, env) in zip(specs, results):
        assert len(nodes) == spec["num_nodes"] == len(set(nodes))
        assert set(nodes) <= set(NODES)
        assert env["PARSL_MPI_PREFIX"] == env["PARSL_SRUN_PREFIX"]
        assert f"--nodelist={','.join(nodes)}" in env["PARSL_SRUN_PREFIX"]
        assert env["PARSL_NUM_RANKS"] == str(2 * spec["num_nodes"])
    # Tasks whose run times overlap held disjoint nodes.
    for i, (nodes_a, start_a, end_a, _) in enumerate(results):
        for nodes_b, start_b, end_b, _ in results[i + 1:]:
            if start_a < end_b and start_b < end_a:
                assert not set(nodes_a) & set(nodes_b)


@pytest.mark.slow
def test_more_nodes_than_the_block_has_fails_at_once_naming_both(pbs_block) -> None:
    with pytest.raises(InvalidResourceSpecification, match=r"num_nodes=5.*4 node"):
        held_nodes(0, parsl_resource_specification={"num_nodes": 5}).result(timeout=60)


def test_outside_a_batch_job_the_block_is_this_node(monkeypatch) -> None:
    from parsl_htex import mpi_nodes

    monkeypatch.delenv("PBS_NODEFILE", raising=False)
    monkeypatch.delenv("SLURM_NODELIST", raising=False)
    monkeypatch.delenv(mpi_nodes.NODE_LOCKS_ENV, raising=False)
    monkeypatch.setattr(mpi_nodes, "_nodes_cache", None)
    env, release = mpi_nodes.allocate_mpi_environment({"num_ranks": 2}, "mpiexec")
    release()
    assert env["PARSL_MPI_NODELIST"] == socket.gethostname()
    assert env["PARSL_MPI_PREFIX"] == "mpiexec -n 2"  # no MPICH-only flags on one node


def test_slurm_node_list_is_expanded_with_scontrol(monkeypatch) -> None:
    """Real ``scontrol show hostnames`` (installed with Slurm by .ci/setup-slurm.sh)."""
    from parsl.executors.high_throughput.mpi_resource_management import (
        Scheduler,
        get_nodes_in_batchjob,
        identify_scheduler,
    )

    monkeypatch.delenv("PBS_NODEFILE", raising=False)
    monkeypatch.setenv("SLURM_NODELIST", "c[1-3],gpu7")
    assert identify_scheduler() is Scheduler.Slurm
    assert get_nodes_in_batchjob(Scheduler.Slurm) == ["c1", "c2", "c3", "gpu7"]


def test_pbs_node_file_gives_each_node_once_in_order(monkeypatch, tmp_path) -> None:
    from parsl_htex.mpi_nodes import Scheduler, get_nodes_in_batchjob, identify_scheduler

    nodefile = tmp_path / "nodes"
    nodefile.write_text("b\nb\na\na\nc\n")
    monkeypatch.delenv("SLURM_NODELIST", raising=False)
    monkeypatch.setenv("PBS_NODEFILE", str(nodefile))
    assert identify_scheduler() is Scheduler.PBS
    assert get_nodes_in_batchjob(Scheduler.PBS) == ["b", "a", "c"]

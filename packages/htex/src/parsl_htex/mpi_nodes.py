"""MPI mode on HTEX workers: node allocation and the launch prefixes (no executor import,
so workers load only this).

In MPI mode each task's ``parsl_resource_specification`` says how large an MPI job the
task launches (``num_nodes``, ``ranks_per_node``, ``num_ranks``, ``launcher_options``).
Before the task runs, its worker takes ``num_nodes`` of the block's nodes for it (waiting
while other tasks hold them) and exports, for the duration of the task, the variables of
Parsl's MPI mode: ``PARSL_NUM_NODES``, ``PARSL_RANKS_PER_NODE``, ``PARSL_NUM_RANKS``,
``PARSL_MPI_NODELIST`` (the task's nodes, comma-separated), ``PARSL_MPIEXEC_PREFIX``,
``PARSL_SRUN_PREFIX``, ``PARSL_APRUN_PREFIX`` and ``PARSL_MPI_PREFIX`` (the prefix of the
executor's ``mpi_launcher``) - the command line to put in front of the application in a
bash app (``f"$PARSL_MPI_PREFIX ./my_mpi_app"``).

The block's nodes come from the batch job (``SLURM_NODELIST`` through ``scontrol show
hostnames``, or ``PBS_NODEFILE``); outside a batch job the block is this one node. Nodes are
taken with an ``flock`` on one file per node in the manager's folder, so a worker that dies
gives its nodes back with its file descriptors.
"""
from __future__ import annotations

import enum
import fcntl
import logging
import os
import socket
import subprocess
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from parsl.executors.errors import InvalidResourceSpecification

logger = logging.getLogger(__name__)

__all__ = [
    "MissingResourceSpecification",
    "Scheduler",
    "allocate_mpi_environment",
    "batch_job_nodes",
    "compose_all",
    "compose_aprun_launch_cmd",
    "compose_mpiexec_launch_cmd",
    "compose_srun_launch_cmd",
    "get_nodes_in_batchjob",
    "get_pbs_hosts_list",
    "get_slurm_hosts_list",
    "identify_scheduler",
    "validate_mpi_resource_spec",
]

VALID_LAUNCHERS = ("mpiexec", "srun", "aprun")
MPI_SPEC_KEYS = frozenset({"num_nodes", "ranks_per_node", "num_ranks", "launcher_options",
                           "priority"})
#: Environment variable (set by the manager for its workers) naming the folder of the
#: per-node lock files.
NODE_LOCKS_ENV = "_PARSL_MPI_NODE_LOCKS"
#: How often a task waiting for nodes looks again.
_NODE_POLL = 0.05


class MissingResourceSpecification(InvalidResourceSpecification):
    """An MPI-mode task came without a resource specification (Parsl's name)."""

    def __init__(self, reason: str) -> None:
        super().__init__(set(), reason)


def validate_mpi_resource_spec(spec: Dict[str, Any]) -> None:
    """Raise InvalidResourceSpecification for a missing specification, unknown keys or
    inconsistent counts."""
    if not spec:
        raise MissingResourceSpecification(
            "MPI mode needs each task's parsl_resource_specification (num_nodes, "
            "ranks_per_node or num_ranks, launcher_options)")
    unknown = set(spec) - MPI_SPEC_KEYS
    if unknown:
        raise InvalidResourceSpecification(
            unknown, f"unknown MPI resource specification keys {sorted(unknown)}; "
            f"supported: {sorted(MPI_SPEC_KEYS)}")
    for key in ("num_nodes", "ranks_per_node", "num_ranks"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InvalidResourceSpecification(
                {key}, f"parsl_resource_specification[{key!r}] must be an int >= 1, "
                f"got {value!r}")
    nodes, per_node, ranks = (spec.get("num_nodes"), spec.get("ranks_per_node"),
                              spec.get("num_ranks"))
    if nodes and per_node and ranks and nodes * per_node != ranks:
        raise InvalidResourceSpecification(
            {"num_ranks"}, f"num_ranks={ranks} but num_nodes*ranks_per_node={nodes * per_node}")


def _counts(spec: Dict[str, Any]) -> Tuple[int, int, int]:
    """``(num_nodes, ranks_per_node, num_ranks)`` with the missing ones derived."""
    nodes = int(spec.get("num_nodes") or 1)
    ranks = spec.get("num_ranks")
    per_node = spec.get("ranks_per_node")
    if ranks is None:
        ranks = nodes * int(per_node or 1)
    if per_node is None:
        per_node = max(1, int(ranks) // nodes)
    return nodes, int(per_node), int(ranks)


def _with_options(prefix: str, spec: Dict[str, Any]) -> str:
    options = str(spec.get("launcher_options") or "").strip()
    return f"{prefix} {options}" if options else prefix


def compose_mpiexec_launch_cmd(resource_spec: Dict[str, Any], node_hostnames: Sequence[str],
                               hosts_flag: bool = True) -> Tuple[str, str]:
    """``("PARSL_MPIEXEC_PREFIX", prefix)``; ``-ppn`` and ``-hosts`` as MPICH and Cray PALS
    take them (left out with ``hosts_flag=False``, for Open MPI on a single node)."""
    _, per_node, ranks = _counts(resource_spec)
    prefix = f"mpiexec -n {ranks}"
    if hosts_flag:
        prefix += f" -ppn {per_node} -hosts {','.join(node_hostnames)}"
    return "PARSL_MPIEXEC_PREFIX", _with_options(prefix, resource_spec)


def compose_srun_launch_cmd(resource_spec: Dict[str, Any],
                            node_hostnames: Sequence[str]) -> Tuple[str, str]:
    nodes, per_node, ranks = _counts(resource_spec)
    prefix = (f"srun -N {nodes} -n {ranks} --ntasks-per-node {per_node} "
              f"--nodelist={','.join(node_hostnames)}")
    return "PARSL_SRUN_PREFIX", _with_options(prefix, resource_spec)


def compose_aprun_launch_cmd(resource_spec: Dict[str, Any],
                             node_hostnames: Sequence[str]) -> Tuple[str, str]:
    _, per_node, ranks = _counts(resource_spec)
    prefix = f"aprun -n {ranks} -N {per_node} -node-list {','.join(node_hostnames)}"
    return "PARSL_APRUN_PREFIX", _with_options(prefix, resource_spec)


def compose_all(mpi_launcher: str, resource_spec: Dict[str, Any],
                node_hostnames: Sequence[str], hosts_flag: bool = True) -> Dict[str, str]:
    """Every prefix variable, ``PARSL_MPI_PREFIX`` (the one of ``mpi_launcher``) and the
    counts, for a task given ``node_hostnames``."""
    if mpi_launcher not in VALID_LAUNCHERS:
        raise ValueError(f"mpi_launcher {mpi_launcher!r} is not one of {VALID_LAUNCHERS}")
    nodes, per_node, ranks = _counts(resource_spec)
    table = dict([compose_mpiexec_launch_cmd(resource_spec, node_hostnames, hosts_flag),
                  compose_srun_launch_cmd(resource_spec, node_hostnames),
                  compose_aprun_launch_cmd(resource_spec, node_hostnames)])
    chosen = {"mpiexec": "PARSL_MPIEXEC_PREFIX", "srun": "PARSL_SRUN_PREFIX",
              "aprun": "PARSL_APRUN_PREFIX"}[mpi_launcher]
    table.update({"PARSL_MPI_PREFIX": table[chosen], "PARSL_MPI_LAUNCHER": mpi_launcher,
                  "PARSL_NUM_NODES": str(nodes), "PARSL_RANKS_PER_NODE": str(per_node),
                  "PARSL_NUM_RANKS": str(ranks),
                  "PARSL_MPI_NODELIST": ",".join(node_hostnames)})
    return table


class Scheduler(enum.Enum):
    """The batch system a block runs under, as far as MPI mode needs to know."""

    Unknown = 0
    Slurm = 1
    PBS = 2


def identify_scheduler() -> Scheduler:
    """The batch system of this job, from its environment variables."""
    if os.environ.get("SLURM_NODELIST"):
        return Scheduler.Slurm
    if os.environ.get("PBS_NODEFILE"):
        return Scheduler.PBS
    return Scheduler.Unknown


def get_slurm_hosts_list() -> List[str]:
    """The job's nodes, expanded from ``SLURM_NODELIST`` by ``scontrol show hostnames``."""
    out = subprocess.check_output(["scontrol", "show", "hostnames",
                                   os.environ.get("SLURM_NODELIST", "")], timeout=30)
    return out.decode().split()


def get_pbs_hosts_list() -> List[str]:
    """The job's nodes from ``PBS_NODEFILE`` (which names a node once per core), in order."""
    with open(os.environ["PBS_NODEFILE"]) as f:
        return list(dict.fromkeys(line.strip() for line in f if line.strip()))


def get_nodes_in_batchjob(scheduler: Scheduler) -> List[str]:
    """The nodes of this job under ``scheduler``; outside a batch job, this node alone
    (Parsl refuses to run MPI mode there; a one-node block is useful for development)."""
    if scheduler is Scheduler.Slurm:
        return get_slurm_hosts_list()
    if scheduler is Scheduler.PBS:
        return get_pbs_hosts_list()
    return [socket.gethostname()]


_nodes_cache: Optional[Tuple[List[str], bool]] = None


def batch_job_nodes() -> Tuple[List[str], bool]:
    """The nodes of this batch job, and whether a scheduler named them (False: this node
    alone, outside a batch job). Read once per process; a scheduler whose node list cannot
    be read is logged and the block is treated as this node."""
    global _nodes_cache
    if _nodes_cache is not None:
        return _nodes_cache
    scheduler = identify_scheduler()
    nodes: List[str] = []
    if scheduler is not Scheduler.Unknown:
        try:
            nodes = get_nodes_in_batchjob(scheduler)
        except (OSError, subprocess.SubprocessError) as e:
            logger.warning("Could not read the node list of this %s job: %s", scheduler.name, e)
    _nodes_cache = (nodes, True) if nodes else ([socket.gethostname()], False)
    return _nodes_cache


def allocate_mpi_environment(spec: Dict[str, Any],
                             launcher: str) -> Tuple[Dict[str, str], Callable[[], None]]:
    """Take ``num_nodes`` free nodes of the block for a task (waiting while other tasks
    hold them); return its environment and the callable that gives the nodes back.

    A request for more nodes than the block has fails at once with
    InvalidResourceSpecification naming both numbers.
    """
    nodes, from_scheduler = batch_job_nodes()
    wanted = _counts(spec)[0]
    if wanted > len(nodes):
        raise InvalidResourceSpecification(
            {"num_nodes"}, f"the task asks for num_nodes={wanted} but this block has "
            f"{len(nodes)} node(s): {','.join(nodes)}")
    lock_dir = os.environ.get(NODE_LOCKS_ENV)
    if not lock_dir:
        return compose_all(launcher, spec, nodes[:wanted], from_scheduler), lambda: None
    os.makedirs(lock_dir, exist_ok=True)
    while True:
        held: List[Tuple[str, int]] = []
        for node in nodes:
            fd = os.open(os.path.join(lock_dir, f"{node}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((node, fd))
            if len(held) == wanted:
                break
        if len(held) == wanted:
            break
        for _, fd in held:
            os.close(fd)  # closing releases the lock
        time.sleep(_NODE_POLL)

    def release() -> None:
        for _, fd in held:
            os.close(fd)

    chosen = [node for node, _ in held]
    return compose_all(launcher, spec, chosen, from_scheduler), release

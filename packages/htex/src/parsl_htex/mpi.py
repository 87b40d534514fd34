"""MPI applications on HTEX: ``MPIExecutor`` and the ``PARSL_MPI_PREFIX`` environment.

In MPI mode each task's ``parsl_resource_specification`` says how large an MPI job the
task launches (``num_nodes``, ``ranks_per_node``, ``num_ranks``, ``launcher_options``).
The worker exports, for the duration of the task, ``PARSL_NUM_NODES``,
``PARSL_RANKS_PER_NODE``, ``PARSL_NUM_RANKS`` and ``PARSL_MPI_PREFIX`` - the launcher
command line to put in front of the application in a bash app
(``f"$PARSL_MPI_PREFIX ./my_mpi_app"``).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.executors.errors import InvalidResourceSpecification
from parsl.providers.base import ExecutionProvider
from parsl_htex.executor import HighThroughputExecutor

logger = logging.getLogger(__name__)

__all__ = ["MPIExecutor", "mpi_environment", "validate_mpi_resource_spec"]

MPI_SPEC_KEYS = frozenset({"num_nodes", "ranks_per_node", "num_ranks", "launcher_options",
                           "priority"})


def validate_mpi_resource_spec(spec: Dict[str, Any]) -> None:
    """Raise InvalidResourceSpecification for unknown keys or inconsistent counts."""
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


def mpi_environment(spec: Dict[str, Any], launcher: str) -> Dict[str, str]:
    """The environment an MPI task's bash app sees, for ``launcher`` (mpiexec/srun/aprun)."""
    nodes = int(spec.get("num_nodes") or 1)
    ranks = spec.get("num_ranks")
    per_node = spec.get("ranks_per_node")
    if ranks is None:
        ranks = nodes * int(per_node or 1)
    if per_node is None:
        per_node = max(1, int(ranks) // nodes)
    options = str(spec.get("launcher_options", "")).strip()
    if launcher == "srun":
        prefix = f"srun -N {nodes} -n {ranks} --ntasks-per-node {per_node}"
    elif launcher == "aprun":
        prefix = f"aprun -n {ranks} -N {per_node}"
    else:
        prefix = f"mpiexec -n {ranks}"
    if options:
        prefix = f"{prefix} {options}"
    return {"PARSL_NUM_NODES": str(nodes), "PARSL_RANKS_PER_NODE": str(per_node),
            "PARSL_NUM_RANKS": str(ranks), "PARSL_MPI_PREFIX": prefix,
            "PARSL_MPI_LAUNCHER": launcher}


class MPIExecutor(HighThroughputExecutor):
    """HighThroughputExecutor in MPI mode: one task at a time per block, launching MPI.

    ``max_workers_per_block`` tasks run at once in each block (each launches its own MPI
    job with the prefix from its resource specification).
    """

    @validate_init
    def __init__(self, label: str = "MPIExecutor",
                 provider: Optional[ExecutionProvider] = None,
                 launch_cmd: Optional[str] = None,
                 interchange_launch_cmd: Optional[Sequence[str]] = None,
                 address: Optional[str] = None,
                 loopback_address: str = "127.0.0.1",
                 worker_port: Optional[int] = None,
                 worker_port_range: Optional[Tuple[int, int]] = (54000, 55000),
                 interchange_port_range: Optional[Tuple[int, int]] = (55000, 56000),
                 storage_access: Optional[List[Staging]] = None,
                 working_dir: Optional[str] = None,
                 worker_debug: bool = False,
                 max_workers_per_block: int = 1,
                 mpi_launcher: str = "mpiexec",
                 block_error_handler: Union[bool, Callable[..., None]] = True,
                 heartbeat_threshold: float = 120,
                 heartbeat_period: float = 30,
                 worker_logdir_root: Optional[str] = None,
                 encrypted: bool = True,
                 worker_ports: Optional[Tuple[int, int]] = None) -> None:
        HighThroughputExecutor.__init__(
            self, label=label, provider=provider, launch_cmd=launch_cmd,
            interchange_launch_cmd=interchange_launch_cmd, address=address,
            loopback_address=loopback_address, worker_port=worker_port,
            worker_ports=worker_ports,
            worker_port_range=worker_port_range, interchange_port_range=interchange_port_range,
            storage_access=storage_access, working_dir=working_dir,
            worker_debug=worker_debug, max_workers_per_node=max_workers_per_block,
            block_error_handler=block_error_handler,
            heartbeat_threshold=heartbeat_threshold, heartbeat_period=heartbeat_period,
            worker_logdir_root=worker_logdir_root, encrypted=encrypted,
            enable_mpi_mode=True, mpi_launcher=mpi_launcher)
        self.max_workers_per_block = max_workers_per_block

"""MPI applications on HTEX: ``MPIExecutor`` (see :mod:`parsl_htex.mpi_nodes` for what a
task sees: its nodes and the ``PARSL_*_PREFIX`` launch prefixes)."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.monitoring.radio_config import RadioConfig
from parsl.providers.base import ExecutionProvider
from parsl_htex.executor import HighThroughputExecutor
from parsl_htex.mpi_nodes import VALID_LAUNCHERS

__all__ = ["MPIExecutor"]


class MPIExecutor(HighThroughputExecutor):
    """HighThroughputExecutor in MPI mode: each task launches an MPI application on nodes
    of its block that it holds for its duration.

    Parameters (HighThroughputExecutor's, without its per-node worker settings: cores,
    memory, worker count, CPU affinity, accelerators and manager selection):

    label, provider, launch_cmd, interchange_launch_cmd, address, loopback_address,
    worker_port, worker_port_range, interchange_port_range, storage_access, working_dir,
    worker_debug, prefetch_capacity, heartbeat_threshold, heartbeat_period, drain_period,
    poll_period, address_probe_timeout, worker_logdir_root, block_error_handler,
    encrypted, remote_monitoring_radio, worker_ports, interchange_liveness_timeout:
        as for HighThroughputExecutor.
    max_workers_per_block: int
        How many tasks (MPI applications) run at once in each block (default 1).
    mpi_launcher: str
        ``mpiexec``, ``srun`` or ``aprun``: which launcher's prefix is
        ``PARSL_MPI_PREFIX`` (all three are exported).

    The provider must start one manager per block, so its launcher must be a
    ``SimpleLauncher`` (or a ``SingleNodeLauncher`` on a one-node block): the MPI
    launcher, not the block launcher, spreads each application over the nodes.
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
                 prefetch_capacity: int = 0,
                 heartbeat_threshold: Union[int, float] = 120,
                 heartbeat_period: Union[int, float] = 30,
                 drain_period: Optional[Union[int, float]] = None,
                 poll_period: int = 10,
                 address_probe_timeout: Optional[Union[int, float]] = None,
                 worker_logdir_root: Optional[str] = None,
                 mpi_launcher: str = "mpiexec",
                 block_error_handler: Union[bool, Callable[..., None]] = True,
                 encrypted: bool = True,
                 remote_monitoring_radio: Optional[RadioConfig] = None,
                 worker_ports: Optional[Tuple[int, int]] = None,
                 interchange_liveness_timeout: Union[int, float] = 120) -> None:
        from parsl.errors import BadParameter

        if mpi_launcher not in VALID_LAUNCHERS:
            raise BadParameter("MPIExecutor", "mpi_launcher", mpi_launcher,
                               f"one of {', '.join(VALID_LAUNCHERS)}")
        HighThroughputExecutor.__init__(
            self, label=label, provider=provider, launch_cmd=launch_cmd,
            interchange_launch_cmd=interchange_launch_cmd, address=address,
            loopback_address=loopback_address, worker_port=worker_port,
            worker_ports=worker_ports,
            worker_port_range=worker_port_range, interchange_port_range=interchange_port_range,
            storage_access=storage_access, working_dir=working_dir,
            worker_debug=worker_debug, max_workers_per_node=max_workers_per_block,
            prefetch_capacity=prefetch_capacity, drain_period=drain_period,
            poll_period=poll_period, address_probe_timeout=address_probe_timeout,
            block_error_handler=block_error_handler,
            heartbeat_threshold=heartbeat_threshold, heartbeat_period=heartbeat_period,
            worker_logdir_root=worker_logdir_root, encrypted=encrypted,
            remote_monitoring_radio=remote_monitoring_radio,
            interchange_liveness_timeout=interchange_liveness_timeout)
        _check_block_launcher(self.provider)
        self.enable_mpi_mode = True
        self.mpi_launcher = mpi_launcher
        self.max_workers_per_block = max_workers_per_block


def _check_block_launcher(provider: Optional[ExecutionProvider]) -> None:
    from parsl.launchers import SimpleLauncher, SingleNodeLauncher

    launcher = getattr(provider, "launcher", None)
    if isinstance(launcher, SimpleLauncher):
        return
    if isinstance(launcher, SingleNodeLauncher) and getattr(provider, "nodes_per_block", 1) == 1:
        return
    raise TypeError(f"MPIExecutor needs one manager per block, so its provider's launcher "
                    f"must be a SimpleLauncher (got {launcher!r}): the MPI launcher "
                    "(mpi_launcher) places each application on the block's nodes")

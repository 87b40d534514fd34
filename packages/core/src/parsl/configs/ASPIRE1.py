"""NSCC ASPIRE 1 (PBS Pro, MPI launcher, monitoring, task_exit checkpoints)."""
from parsl.addresses import address_by_interface
from parsl.config import Config
from parsl.dataflow.memoization import BasicMemoizer
from parsl.executors import HighThroughputExecutor
from parsl.launchers import MpiRunLauncher
from parsl.monitoring.monitoring import MonitoringHub
from parsl.providers import PBSProProvider
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        HighThroughputExecutor(
            label="htex",
            heartbeat_period=15,
            heartbeat_threshold=120,
            worker_debug=True,
            max_workers_per_node=4,
            address=address_by_interface("ib0"),
            provider=PBSProProvider(
                launcher=MpiRunLauncher(),
                scheduler_options="#PBS -J 1-10",
                worker_init="",
                nodes_per_block=3,
                min_blocks=3,
                max_blocks=5,
                cpus_per_node=24,
                walltime="24:00:00",
            ),
        ),
    ],
    monitoring=MonitoringHub(
        hub_address=address_by_interface("ib0"),
        resource_monitoring_interval=10,
    ),
    strategy="simple",
    retries=3,
    memoizer=BasicMemoizer(checkpoint_mode="task_exit"),
    usage_tracking=LEVEL_1,
)

"""PSC Bridges from a login node: blocks of 2 nodes for 10 minutes (Slurm)."""
from parsl.addresses import address_by_interface
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SrunLauncher
from parsl.providers import SlurmProvider
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        HighThroughputExecutor(
            label="Bridges_HTEX_multinode",
            address=address_by_interface("ens3f0"),
            max_workers_per_node=1,
            provider=SlurmProvider(
                "YOUR_PARTITION_NAME",
                nodes_per_block=2,
                init_blocks=1,
                scheduler_options="",
                worker_init="",
                launcher=SrunLauncher(),
                walltime="00:10:00",
                cmd_timeout=120,
            ),
        )
    ],
    usage_tracking=LEVEL_1,
)

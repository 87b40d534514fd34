"""TACC Stampede2 with Globus staging, blocks of 2 nodes (Slurm)."""
from parsl.addresses import address_by_interface
from parsl.config import Config
from parsl.data_provider.globus import GlobusStaging
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SrunLauncher
from parsl.providers import SlurmProvider
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        HighThroughputExecutor(
            label="Stampede2_HTEX",
            address=address_by_interface("em3"),
            max_workers_per_node=2,
            provider=SlurmProvider(
                nodes_per_block=2,
                init_blocks=1,
                min_blocks=1,
                max_blocks=1,
                partition="YOUR_PARTITION",
                scheduler_options="",
                worker_init="",
                launcher=SrunLauncher(),
                walltime="00:30:00",
            ),
            storage_access=[GlobusStaging(
                endpoint_uuid="ceea5ca0-89a9-11e7-a97f-22000a92523b",
                endpoint_path="/",
                local_path="/",
            )],
        )
    ],
    usage_tracking=LEVEL_1,
)

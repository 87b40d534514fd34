"""TACC Frontera from a login node: blocks of 2 nodes for 10 minutes (Slurm)."""
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SrunLauncher
from parsl.providers import SlurmProvider
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        HighThroughputExecutor(
            label="frontera_htex",
            max_workers_per_node=1,
            provider=SlurmProvider(
                cmd_timeout=60,
                nodes_per_block=2,
                init_blocks=1,
                min_blocks=1,
                max_blocks=1,
                partition="normal",
                scheduler_options="#SBATCH -A <YOUR_ALLOCATION>",
                worker_init="",
                walltime="00:10:00",
                launcher=SrunLauncher(),
            ),
        )
    ],
    usage_tracking=LEVEL_1,
)

"""Argonne LCRC Improv, blocks of 2 nodes (PBS Pro, mpirun; replace the YOUR_* values)."""
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import MpiRunLauncher
from parsl.providers import PBSProProvider

config = Config(
    executors=[
        HighThroughputExecutor(
            label="Improv_multinode",
            max_workers_per_node=32,
            provider=PBSProProvider(
                account="YOUR_ALLOCATION_ON_IMPROV",
                scheduler_options="",
                queue="compute",
                worker_init="module load gcc/13.2.0; module load openmpi/5.0.3-gcc-13.2.0;",
                launcher=MpiRunLauncher(),
                nodes_per_block=2,
                walltime="00:10:00",
            ),
        ),
    ],
)

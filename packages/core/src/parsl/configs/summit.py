"""OLCF Summit from a login node, blocks of 2 nodes (LSF, jsrun)."""
from parsl.addresses import address_by_interface
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import JsrunLauncher
from parsl.providers import LSFProvider
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        HighThroughputExecutor(
            label="Summit_HTEX",
            working_dir="YOUR_WORKING_DIR_ON_SHARED_FS",
            address=address_by_interface("ib0"),
            worker_port_range=(50000, 55000),
            provider=LSFProvider(
                launcher=JsrunLauncher(),
                walltime="00:10:00",
                nodes_per_block=2,
                init_blocks=1,
                max_blocks=1,
                worker_init="",
                project="YOUR_PROJECT_ALLOCATION",
                cmd_timeout=60,
            ),
        )
    ],
    usage_tracking=LEVEL_1,
)

"""Work Queue on this machine (needs parsl-taskvine and ndcctools)."""
import uuid

from parsl.config import Config
from parsl.executors import WorkQueueExecutor
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        WorkQueueExecutor(
            label="parsl-wq-example",
            project_name="parsl-wq-" + str(uuid.uuid4()),
            port=9123,
            shared_fs=False,
        )
    ],
    usage_tracking=LEVEL_1,
)

"""TaskVine on this machine (needs parsl-taskvine and ndcctools)."""
import uuid

from parsl.config import Config
from parsl.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        TaskVineExecutor(
            label="parsl-vine-example",
            manager_config=TaskVineManagerConfig(project_name="parsl-vine-" + str(uuid.uuid4())),
        )
    ],
    usage_tracking=LEVEL_1,
)

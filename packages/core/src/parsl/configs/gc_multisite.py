"""Two Globus Compute endpoints as two executors (GlobusComputeExecutor)."""
from parsl.executors import GlobusComputeExecutor  # noqa: I001 - fail first if it is missing

from globus_compute_sdk import Executor

from parsl.config import Config
from parsl.usage_tracking.levels import LEVEL_1

perlmutter_endpoint = "YOUR_PERLMUTTER_ENDPOINT_UUID"
expanse_endpoint = "YOUR_EXPANSE_ENDPOINT_UUID"

config = Config(
    executors=[
        GlobusComputeExecutor(executor=Executor(endpoint_id=perlmutter_endpoint),
                              label="Perlmutter"),
        GlobusComputeExecutor(executor=Executor(endpoint_id=expanse_endpoint),
                              label="Expanse"),
    ],
    usage_tracking=LEVEL_1,
)

"""Workers in Kubernetes pods (KubernetesProvider; replace the YOUR_* values)."""
from parsl.addresses import address_by_route
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import KubernetesProvider
from parsl.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        HighThroughputExecutor(
            label="kube-htex",
            cores_per_worker=1,
            max_workers_per_node=1,
            worker_logdir_root="YOUR_WORK_DIR",
            address=address_by_route(),
            provider=KubernetesProvider(
                namespace="default",
                image="YOUR_DOCKER_URL",
                worker_init="",
                secret="YOUR_KUBE_SECRET",
                pod_name="YOUR-POD-Name",
                nodes_per_block=1,
                init_blocks=1,
                max_blocks=10,
            ),
        ),
    ],
    usage_tracking=LEVEL_1,
)

"""The providers are found under Parsl's names and module paths, and load lazily."""
from __future__ import annotations

import subprocess
import sys

from parsl_cloud.aws import AWSProvider
from parsl_cloud.kube import KubernetesProvider


def test_parsl_providers_resolves_both_names_to_this_package():
    from parsl.providers import AWSProvider as aws
    from parsl.providers import KubernetesProvider as kube

    assert aws is AWSProvider and kube is KubernetesProvider


def test_parsl_module_paths_of_the_docs_import_the_same_classes():
    from parsl.providers.aws.aws import AWSProvider as aws
    from parsl.providers.kubernetes.kube import KubernetesProvider as kube

    assert aws is AWSProvider and kube is KubernetesProvider


def test_neither_import_parsl_nor_the_provider_modules_import_boto3_or_kubernetes():
    code = ("import sys, parsl\n"
            "from parsl.providers import AWSProvider, KubernetesProvider\n"
            "import parsl.providers.aws.aws, parsl.providers.kubernetes.kube\n"
            "print(sorted(m for m in ('boto3', 'botocore', 'kubernetes') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)

    assert result.stdout.strip() == "[]"



def _defaults(cls: type) -> dict:
    import inspect

    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_aws_parameters_keep_parsls_names_order_and_defaults():
    import inspect

    names = list(inspect.signature(AWSProvider.__init__).parameters)[1:]
    assert names[:18] == ["image_id", "key_name", "init_blocks", "min_blocks", "max_blocks",
                          "nodes_per_block", "parallelism", "worker_init", "instance_type",
                          "region", "spot_max_bid", "key_file", "profile",
                          "iam_instance_profile_arn", "state_file", "walltime", "linger",
                          "launcher"]
    assert {k: v for k, v in _defaults(AWSProvider).items() if k != "launcher"} == {
        "init_blocks": 1, "min_blocks": 0, "max_blocks": 10, "nodes_per_block": 1,
        "parallelism": 1, "worker_init": "", "instance_type": "t2.small",
        "region": "us-east-2", "spot_max_bid": 0, "key_file": None, "profile": None,
        "iam_instance_profile_arn": "", "state_file": None, "walltime": "01:00:00",
        "linger": False, "api_timeout": 30}


def test_kubernetes_parameters_keep_parsls_defaults():
    defaults = _defaults(KubernetesProvider)

    assert {k: defaults[k] for k in ("namespace", "nodes_per_block", "init_blocks",
                                     "min_blocks", "max_blocks", "max_cpu", "max_mem",
                                     "init_cpu", "init_mem", "parallelism", "worker_init",
                                     "run_as_non_root")} == {
        "namespace": "default", "nodes_per_block": 1, "init_blocks": 4, "min_blocks": 0,
        "max_blocks": 10, "max_cpu": 2, "max_mem": "500Mi", "init_cpu": 1,
        "init_mem": "250Mi", "parallelism": 1, "worker_init": "", "run_as_non_root": False}

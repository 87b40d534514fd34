"""parsl-providers-cloud: blocks of workers on EC2 instances or Kubernetes pods.

Install with ``pip install parsl-providers-cloud``; Parsl then resolves
``from parsl.providers import AWSProvider, KubernetesProvider`` (and the module paths
``parsl.providers.aws.aws`` and ``parsl.providers.kubernetes.kube``) to the classes here
through entry points. boto3 and kubernetes are imported only when a provider is built.
"""
from __future__ import annotations

from parsl_cloud.aws import AWSProvider
from parsl_cloud.kube import KubernetesProvider

__all__ = ["AWSProvider", "KubernetesProvider"]

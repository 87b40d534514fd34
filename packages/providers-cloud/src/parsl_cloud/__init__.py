"""parsl-providers-cloud: AWSProvider (boto3) and KubernetesProvider (kubernetes).

Not implemented yet: this distribution is a placeholder in the monorepo layout and
registers no components. Until it does, `parsl` reports these names as belonging to
parsl-providers-cloud and explains how to install it.
"""
__all__: list[str] = []

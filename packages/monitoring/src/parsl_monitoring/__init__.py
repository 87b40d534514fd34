"""parsl-monitoring: MonitoringHub, monitoring radios, the monitoring database and parsl-visualize.

Not implemented yet: this distribution is a placeholder in the monorepo layout and
registers no components. Until it does, `parsl` reports these names as belonging to
parsl-monitoring and explains how to install it.
"""
__all__: list[str] = []

"""parsl-taskvine: WorkQueueExecutor and TaskVineExecutor (ndcctools).

Not implemented yet: this distribution is a placeholder in the monorepo layout and
registers no components. Until it does, `parsl` reports these names as belonging to
parsl-taskvine and explains how to install it.
"""
__all__: list[str] = []

"""parsl-staging: HTTP(S), FTP, rsync, Globus (globus-sdk) and zip file staging providers.

Not implemented yet: this distribution is a placeholder in the monorepo layout and
registers no components. Until it does, `parsl` reports these names as belonging to
parsl-staging and explains how to install it.
"""
__all__: list[str] = []

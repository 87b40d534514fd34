"""Files and staging providers.

``parsl.data_provider.files`` (``File``) and the no-op staging for local files are part of
parsl-core. Staging providers for other URL schemes (HTTP, FTP, rsync, Globus, zip) come
with ``parsl-staging``; their Parsl module paths (``parsl.data_provider.http`` ...) and
their class names here (``from parsl.data_provider import RSyncStaging``) resolve through
the ``parsl.staging`` entry-point group on first use (see :mod:`parsl.plugins.registry`).
"""
from __future__ import annotations

from parsl.plugins import registry

__getattr__, __dir__ = registry.namespace("staging", __name__)

"""parsl-staging: files that move with Parsl tasks over HTTP(S), FTP, rsync, Globus and zip.

The providers register in the ``parsl.staging`` entry-point group, so Parsl's names and
module paths find them (``from parsl.data_provider.http import HTTPInTaskStaging``) and
``default_staging`` includes FTP, HTTP and zip staging. Names are imported on first use:
importing this package imports neither requests nor globus_sdk.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict

__all__ = ["NODE_CACHE", "CacheFolderError", "ChecksumMismatch", "FTPInTaskStaging",
           "FTPSeparateTaskStaging",
           "GlobusAuthorizationRequired", "GlobusStaging", "HTTPInTaskStaging",
           "HTTPSeparateTaskStaging", "RSyncStaging", "Retry", "StagingError",
           "ZipAuthorityError", "ZipFileStaging"]

_WHERE: Dict[str, str] = {
    "CacheFolderError": "parsl_staging.errors",
    "ChecksumMismatch": "parsl_staging.errors",
    "GlobusAuthorizationRequired": "parsl_staging.errors",
    "StagingError": "parsl_staging.errors",
    "ZipAuthorityError": "parsl_staging.errors",
    "Retry": "parsl_staging.transfer",
    "NODE_CACHE": "parsl_staging.node_cache",
    "HTTPInTaskStaging": "parsl_staging.http",
    "HTTPSeparateTaskStaging": "parsl_staging.http",
    "FTPInTaskStaging": "parsl_staging.ftp",
    "FTPSeparateTaskStaging": "parsl_staging.ftp",
    "RSyncStaging": "parsl_staging.rsync",
    "GlobusStaging": "parsl_staging.globus",
    "ZipFileStaging": "parsl_staging.zip",
}

if TYPE_CHECKING:
    from parsl_staging.errors import CacheFolderError as CacheFolderError
    from parsl_staging.errors import ChecksumMismatch as ChecksumMismatch
    from parsl_staging.errors import GlobusAuthorizationRequired as GlobusAuthorizationRequired
    from parsl_staging.errors import StagingError as StagingError
    from parsl_staging.errors import ZipAuthorityError as ZipAuthorityError
    from parsl_staging.ftp import FTPInTaskStaging as FTPInTaskStaging
    from parsl_staging.ftp import FTPSeparateTaskStaging as FTPSeparateTaskStaging
    from parsl_staging.globus import GlobusStaging as GlobusStaging
    from parsl_staging.http import HTTPInTaskStaging as HTTPInTaskStaging
    from parsl_staging.http import HTTPSeparateTaskStaging as HTTPSeparateTaskStaging
    from parsl_staging.node_cache import NODE_CACHE as NODE_CACHE
    from parsl_staging.rsync import RSyncStaging as RSyncStaging
    from parsl_staging.transfer import Retry as Retry
    from parsl_staging.zip import ZipFileStaging as ZipFileStaging


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'parsl_staging' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

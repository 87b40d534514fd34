"""Exceptions of parsl-staging: each names the URL, the direction and what went wrong.

They are raised on workers and travel back to the submit side, so each keeps in ``args``
exactly the arguments of its constructor (exceptions are unpickled as ``cls(*args)``).
"""
from __future__ import annotations

from typing import Any

from parsl.errors import ParslError


class StagingError(ParslError):
    """A transfer of ``url`` failed; ``direction`` is ``"in"`` or ``"out"``."""

    def __init__(self, url: str, reason: str, direction: str = "in") -> None:
        super().__init__(url, reason, direction)
        self.url = url
        self.reason = reason
        self.direction = direction

    def __str__(self) -> str:
        return f"staging {self.direction} {self.url} failed: {self.reason}"


class ChecksumMismatch(StagingError):
    """The transferred file's digest differs from the File's expected ``checksum``."""


class CacheFolderError(StagingError):
    """The node cache folder cannot be used (belongs to another user, is not a folder,
    cannot be created); ``reason`` names the folder and what to do."""


class GlobusAuthorizationRequired(StagingError):
    """No Globus tokens are stored and no client credentials are configured."""


class ZipAuthorityError(ParslError):
    """A ``zip:`` URL has a netloc (``zip://host/...``), which means nothing to zip files.

    Same name and ``file`` attribute as Parsl's.
    """

    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.file = file

    def __str__(self) -> str:
        return (f"ZipFileStaging cannot stage Files with an authority (netloc) section "
                f"({self.file.netloc!r}) in {self.file.url!r}: write zip:/abs/path.zip/member")

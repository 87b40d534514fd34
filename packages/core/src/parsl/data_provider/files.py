"""File: a location-independent reference to a file that tasks consume or produce."""
from __future__ import annotations

import os
from typing import Optional, Union
from urllib.parse import urlparse


class File:
    """A file named by a local path or a URL (``file://``, ``http://``, ``globus://`` ...).

    ``scheme``, ``netloc`` and ``path`` come from the URL; a plain path has scheme
    ``file``. ``filepath`` is where a task should open the file: the path itself for local
    files, or the ``local_path`` a staging provider set after staging it in.

    ``checksum`` (beyond Parsl, optional) is the expected digest of the file's content as
    ``"<algorithm>:<hex digest>"`` with an algorithm of :mod:`hashlib`, e.g.
    ``"sha256:9f86d0..."``; staging providers of parsl-staging verify it after every
    transfer and fail the transfer when it differs.
    """

    def __init__(self, url: Union[os.PathLike[str], str], *,
                 checksum: Optional[str] = None) -> None:
        if isinstance(url, os.PathLike):
            url = os.fspath(url)
        if not isinstance(url, str):
            raise TypeError(f"File: url must be a str or os.PathLike, got {url!r} "
                            f"({type(url).__name__})")
        self.url = url
        parsed = urlparse(url)
        self.scheme = parsed.scheme if parsed.scheme else "file"
        self.netloc = parsed.netloc
        self.path = parsed.path
        self.filename = os.path.basename(self.path)
        self.local_path: Optional[str] = None
        self.checksum = _check_checksum(checksum)

    def cleancopy(self) -> File:
        """A copy without staging state, for use in another task or run."""
        return File(self.url, checksum=self.checksum)

    def __str__(self) -> str:
        return self.filepath

    def __repr__(self) -> str:
        fields = [f"{type(self).__name__} at {id(self):#x}", f"url={self.url}",
                  f"scheme={self.scheme}", f"netloc={self.netloc}", f"path={self.path}",
                  f"filename={self.filename}"]
        if self.local_path is not None:
            fields.append(f"local_path={self.local_path}")
        return "<" + " ".join(fields) + ">"

    def __fspath__(self) -> str:
        return self.filepath

    def __eq__(self, other: object) -> bool:
        return isinstance(other, File) and self.url == other.url

    def __hash__(self) -> int:
        return hash(("parsl.File", self.url))

    @property
    def filepath(self) -> str:
        """The path a task opens: the local path, or where staging put the file."""
        if self.local_path is not None:
            return self.local_path
        if self.scheme == "file":
            return self.path
        # Starts with Parsl's words, which code and tests match on.
        raise ValueError(f"No local_path set for File {self.url!r}: its scheme "
                         f"{self.scheme!r} is not local and it has not been staged in; pass "
                         "it to an app so its executor's storage_access stages it")

    def is_local(self) -> bool:
        return self.scheme == "file"


def _check_checksum(checksum: Optional[str]) -> Optional[str]:
    if checksum is None:
        return None
    import hashlib

    algorithm, sep, digest = checksum.partition(":") if isinstance(checksum, str) else \
        ("", "", "")
    if not sep or algorithm.lower() not in hashlib.algorithms_available or not digest:
        raise ValueError(f"File: checksum must be '<algorithm>:<hex digest>' with a "
                         f"hashlib algorithm such as 'sha256', got {checksum!r}")
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise ValueError(f"File: checksum digest must be hexadecimal, got {checksum!r}"
                         ) from None
    return f"{algorithm.lower()}:{digest.lower()}"

"""Staging for files already where the task runs: local paths and ``file://`` URLs."""
from __future__ import annotations

from parsl.data_provider.files import File
from parsl.data_provider.staging import Staging


class NoOpFileStaging(Staging):
    """Accepts local files and does nothing: the task opens them in place."""

    def can_stage_in(self, file: File) -> bool:
        return file.scheme == "file"

    def can_stage_out(self, file: File) -> bool:
        return file.scheme == "file"

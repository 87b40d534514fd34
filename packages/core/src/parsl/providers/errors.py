"""Errors raised by providers when a resource manager refuses or misbehaves."""
from __future__ import annotations

from typing import List, Optional

from parsl.errors import ParslError


class ExecutionProviderException(ParslError):
    """Base class for provider errors."""


class SubmitException(ExecutionProviderException):
    """A block could not be submitted. Names the job, the command and what it printed."""

    def __init__(self, job_name: str, message: str, stdout: Optional[str] = None,
                 stderr: Optional[str] = None, retcode: Optional[int] = None) -> None:
        self.job_name = job_name
        self.message = message
        self.stdout = stdout
        self.stderr = stderr
        self.retcode = retcode
        super().__init__(job_name, message, stdout, stderr, retcode)

    @property
    def task_name(self) -> str:
        """Old name of ``job_name``; deprecated in Parsl, so it warns as Parsl's does."""
        import warnings

        warnings.warn("SubmitException.task_name is deprecated; use job_name",
                      DeprecationWarning, stacklevel=2)
        return self.job_name

    def __str__(self) -> str:
        text = f"Cannot launch job {self.job_name}: {self.message}"
        if self.retcode is not None:
            text += f"; exit code {self.retcode}"
        if self.stdout:
            text += f"; stdout: {self.stdout.strip()}"
        if self.stderr:
            text += f"; stderr: {self.stderr.strip()}"
        return text


class ScaleOutFailed(ExecutionProviderException):
    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason
        super().__init__(f"Unable to scale out {provider}: {reason}")


class SchedulerMissingArgs(ExecutionProviderException):
    def __init__(self, missing_keywords: List[str], sitename: str) -> None:
        self.missing_keywords = missing_keywords
        self.sitename = sitename
        super().__init__(f"Missing keywords {missing_keywords} for site {sitename}")


class ScriptPathError(ExecutionProviderException):
    def __init__(self, script_path: str, reason: Exception) -> None:
        self.script_path = script_path
        self.reason = reason
        super().__init__(f"Unable to create submit script {script_path}: {reason}")

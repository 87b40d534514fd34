"""rsync staging: local paths of the submit host copied to and from the workers.

:class:`RSyncStaging` has Parsl's parameter and meaning: it accepts plain paths and
``file://`` URLs, and inside each task runs ``rsync <hostname>:<absolute path>
<working_dir>/<filename>`` before the task (stage-in) and the reverse after it
(stage-out). Put it before the no-op provider in ``storage_access``. Workers must be able
to log in to ``hostname`` without a password (an SSH key), as in Parsl.

Unlike Parsl, rsync runs as an argument list (no shell: paths with spaces or quotes
work), a failure raises :class:`parsl_staging.StagingError` with rsync's exit code,
its meaning and its stderr, rsync's I/O timeout and ssh's connect timeout bound every
transfer, and rsync's retryable exits are retried.
"""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

from parsl.data_provider.files import File
from parsl.data_provider.staging import Staging
from parsl_staging import tasks
from parsl_staging.errors import StagingError
from parsl_staging.transfer import (
    DEFAULT_RETRY,
    Retry,
    check_retry,
    check_timeout,
    executor_working_dir,
    local_path_for,
    verify_file,
    with_retries,
)

if TYPE_CHECKING:
    from parsl.data_provider.data_manager import DataManager

logger = logging.getLogger(__name__)

#: rsync exit codes (rsync(1), EXIT VALUES) worth another try: the connection or the
#: protocol stream broke, a timeout, or ssh could not connect (255).
RETRYABLE_EXITS: Dict[int, str] = {
    5: "error starting client-server protocol",
    10: "error in socket I/O",
    12: "error in rsync protocol data stream",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "ssh could not connect or the connection was lost",
}

_OTHER_EXITS: Dict[int, str] = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files, dirs",
    11: "error in file I/O",
    23: "partial transfer due to error (missing file or permission denied?)",
    24: "partial transfer due to vanished source files",
    127: "rsync or ssh not found",
}


class RsyncFailed(StagingError):
    """rsync exited with ``exit_code``; ``stderr`` is what it printed."""

    def __init__(self, url: str, reason: str, direction: str = "in", exit_code: int = 0,
                 stderr: str = "") -> None:
        super().__init__(url, reason, direction)
        self.args = (url, reason, direction, exit_code, stderr)
        self.exit_code = exit_code
        self.stderr = stderr


class RsyncTransport:
    """Runs rsync over ssh for one file."""

    def __init__(self, hostname: str, rsync: str, ssh_command: Optional[str],
                 timeout: float, retry: Retry, options: Sequence[str]) -> None:
        self.hostname = hostname
        self.rsync = rsync
        self.ssh_command = ssh_command
        self.timeout = timeout
        self.retry = retry
        self.options = list(options)

    def _command(self, source: str, destination: str) -> List[str]:
        ssh = self.ssh_command or (f"ssh -o BatchMode=yes "
                                   f"-o ConnectTimeout={max(1, int(self.timeout))}")
        return [self.rsync, f"--timeout={max(1, int(self.timeout))}", "-e", ssh,
                *self.options, source, destination]

    def _run(self, file: File, source: str, destination: str, direction: str,
             task_id: Optional[int]) -> None:
        command = self._command(source, destination)
        url = f"{self.hostname}:{file.path}"

        def attempt() -> None:
            logger.debug("task %s: running %s", task_id, shlex.join(command),
                         extra={"task_id": task_id})
            try:
                # No cap on the whole run (a large file may take hours): rsync's --timeout
                # ends it when no data moves for `timeout` seconds, ssh's ConnectTimeout
                # when the host does not answer.
                done = subprocess.run(command, capture_output=True, text=True, check=False)
            except FileNotFoundError as e:
                raise RsyncFailed(url, f"cannot run {self.rsync!r}: {e}", direction, 127,
                                  "") from e
            if done.returncode != 0:
                code = done.returncode
                meaning = RETRYABLE_EXITS.get(code) or _OTHER_EXITS.get(code, "")
                stderr = done.stderr.strip()
                raise RsyncFailed(url, f"{shlex.join(command)} exited with {code}"
                                  f"{f' ({meaning})' if meaning else ''}: {stderr}",
                                  direction, code, stderr)

        with_retries(attempt, self.retry,
                     lambda e: isinstance(e, RsyncFailed) and e.exit_code in RETRYABLE_EXITS,
                     url, task_id)

    def download(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        folder = os.path.dirname(os.path.abspath(local_path))
        os.makedirs(folder, exist_ok=True)
        # rsync writes to a temporary file and renames it when complete.
        self._run(file, f"{self.hostname}:{file.path}", local_path, "in", task_id)
        try:
            verify_file(local_path, f"{self.hostname}:{file.path}", file.checksum)
        except StagingError:
            os.unlink(local_path)
            raise
        return os.path.getsize(local_path)

    def upload(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        self._run(file, local_path, f"{self.hostname}:{file.path}", "out", task_id)
        return os.path.getsize(local_path)


class RSyncStaging(Staging):
    """Stages local files in and out of tasks with rsync from/to ``hostname``.

    ``hostname``: where the files are, as rsync and ssh take it (``host`` or
    ``user@host``). Beyond Parsl, keyword-only: ``ssh_command`` replaces the default
    ``ssh -o BatchMode=yes -o ConnectTimeout=<timeout>`` (e.g. to add ``-p 2222 -i key``);
    ``timeout`` is rsync's I/O timeout in seconds (default 60); ``retry`` how retryable
    exits are retried; ``rsync`` the rsync program; ``options`` extra rsync arguments.
    """

    def __init__(self, hostname: str, *, ssh_command: Optional[str] = None,
                 timeout: float = 60.0, retry: Retry = DEFAULT_RETRY, rsync: str = "rsync",
                 options: Sequence[str] = ()) -> None:
        if not isinstance(hostname, str) or not hostname:
            raise ValueError(f"RSyncStaging: hostname must be a non-empty str, "
                             f"got {hostname!r}")
        if ssh_command is not None and not isinstance(ssh_command, str):
            raise TypeError(f"RSyncStaging: ssh_command must be a str, got {ssh_command!r}")
        if isinstance(options, str) or not all(isinstance(o, str) for o in options):
            raise TypeError(f"RSyncStaging: options must be a sequence of str, "
                            f"got {options!r}")
        self.hostname = hostname
        self.ssh_command = ssh_command
        self.timeout = check_timeout(timeout, "RSyncStaging")
        self.retry = check_retry(retry, "RSyncStaging")
        self.rsync = rsync
        self.options = list(options)
        self._transport = RsyncTransport(hostname, rsync, ssh_command, self.timeout,
                                         self.retry, self.options)

    def __repr__(self) -> str:
        return (f"RSyncStaging({self.hostname!r}, ssh_command={self.ssh_command!r}, "
                f"timeout={self.timeout!r}, retry={self.retry!r})")

    def can_stage_in(self, file: File) -> bool:
        return file.scheme == "file"

    def can_stage_out(self, file: File) -> bool:
        return file.scheme == "file"

    def _prepare(self, dm: DataManager, executor: str, file: File) -> None:
        # The remote side needs an absolute path.
        file.path = os.path.abspath(file.path)
        file.local_path = local_path_for(executor_working_dir(dm, executor), file)

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> None:
        self._prepare(dm, executor, file)

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> None:
        self._prepare(dm, executor, file)

    def replace_task(self, dm: DataManager, executor: str, file: File,
                     func: Callable[..., Any]) -> Callable[..., Any]:
        return tasks.in_task_stage_in(func, self._transport, file)

    def replace_task_stage_out(self, dm: DataManager, executor: str, file: File,
                               func: Callable[..., Any]) -> Callable[..., Any]:
        return tasks.in_task_stage_out(func, self._transport, file)

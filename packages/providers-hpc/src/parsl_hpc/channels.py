"""Where a provider runs its scheduler commands: locally, or on a login node over SSH.

A channel runs a shell command and returns ``(exit code, stdout, stderr)``, and copies a
submit script to the machine that runs the scheduler commands. ``LocalChannel`` (every
provider's default) runs commands on this machine; ``SSHChannel`` runs them on a remote
login node with paramiko, which is imported only when an ``SSHChannel`` connects, so
users who never drive a cluster remotely do not need paramiko at all.

Every command has a time bound: a command that outlives it is killed (locally, its whole
process group) and reported with exit code -1, so a hung ``squeue`` never hangs Parsl.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from parsl._validation import validate_init
from parsl.errors import BadParameter, OptionalModuleMissing, ParslError

if TYPE_CHECKING:
    import paramiko

logger = logging.getLogger(__name__)

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "AuthException",
    "BadHostKeyException",
    "Channel",
    "ChannelError",
    "FileCopyException",
    "LocalChannel",
    "SSHChannel",
    "SSHException",
]

#: Exit code reported for a command killed because it outlived its time bound.
TIMEOUT_EXIT_CODE = -1

_READ_CHUNK = 65536


class ChannelError(ParslError):
    """A channel could not reach its host or move a file; names the host and the reason."""

    def __init__(self, hostname: str, reason: str) -> None:
        self.hostname = hostname
        self.reason = reason
        super().__init__(hostname, reason)

    def __str__(self) -> str:
        return f"{type(self).__name__} on host {self.hostname}: {self.reason}"


class AuthException(ChannelError):
    """The SSH server refused every credential offered (key, password or agent)."""


class BadHostKeyException(ChannelError):
    """The SSH host is unknown, or presented a key that differs from the known one."""


class SSHException(ChannelError):
    """The SSH connection could not be made or broke (refused, timed out, protocol error)."""


class FileCopyException(ChannelError):
    """A file could not be copied to or from the channel's host."""


class Channel(metaclass=ABCMeta):
    """Runs shell commands and places files on the host that runs scheduler commands.

    ``script_dir`` is the folder on that host where submit scripts are pushed before
    submission; providers set it to their own ``script_dir`` when it is left ``None``.
    """

    script_dir: Optional[str] = None

    @property
    @abstractmethod
    def hostname(self) -> str:
        """Host the commands run on, for error messages and logs."""

    @property
    def is_local(self) -> bool:
        """True when commands run on this machine, so local paths are valid there too."""
        return False

    @abstractmethod
    def execute_wait(self, cmd: str, walltime: Optional[float] = None,
                     envs: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
        """Run ``cmd`` in a shell; return (exit code, stdout, stderr).

        A command still running after ``walltime`` seconds is killed and reported with exit
        code :data:`TIMEOUT_EXIT_CODE` and a message on stderr.
        """

    @abstractmethod
    def push_file(self, source: str, dest_dir: str) -> str:
        """Copy the local file ``source`` into ``dest_dir`` on the host; return its path there."""

    @abstractmethod
    def makedirs(self, path: str, mode: int = 0o700, exist_ok: bool = False) -> None:
        """Create ``path`` and its parents on the host."""

    def close(self) -> None:
        """Release connections; the channel reconnects if used again."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} host={self.hostname!r}>"


class LocalChannel(Channel):
    """Runs commands on this machine, each in a process group of its own.

    The process group lets a timed-out command be killed together with everything it
    started, so no orphaned scheduler client lingers or keeps the output pipes open.
    """

    @validate_init
    def __init__(self, userhome: str = ".", envs: Optional[Dict[str, str]] = None,
                 script_dir: Optional[str] = None) -> None:
        self.userhome = os.path.abspath(userhome)
        self.envs: Dict[str, str] = dict(envs or {})
        self.script_dir = script_dir

    @property
    def hostname(self) -> str:
        return "localhost"

    @property
    def is_local(self) -> bool:
        return True

    def execute_wait(self, cmd: str, walltime: Optional[float] = None,
                     envs: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
        env = os.environ.copy()
        env.update(self.envs)
        if envs:
            env.update(envs)
        logger.debug("LocalChannel running %r with time bound %s s", cmd, walltime)
        proc = subprocess.Popen(cmd, shell=True, executable="/bin/bash", cwd=self.userhome,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=walltime)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                logger.warning("Output pipes of timed-out command %r stayed open; "
                               "discarding its output", cmd)
                out, err = b"", b""
            message = f"command timed out after {walltime} s and was killed: {cmd}"
            logger.warning("%s", message)
            return (TIMEOUT_EXIT_CODE, out.decode(errors="replace"),
                    (err.decode(errors="replace") + "\n" + message).strip())
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def push_file(self, source: str, dest_dir: str) -> str:
        destination = os.path.join(dest_dir, os.path.basename(source))
        if os.path.abspath(destination) == os.path.abspath(source):
            return destination
        try:
            os.makedirs(dest_dir, exist_ok=True)
            shutil.copy2(source, destination)
        except OSError as e:
            raise FileCopyException(self.hostname, f"cannot copy {source} to {dest_dir}: {e}"
                                    ) from e
        return destination

    def makedirs(self, path: str, mode: int = 0o700, exist_ok: bool = False) -> None:
        os.makedirs(path, mode=mode, exist_ok=exist_ok)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        logger.debug("process group %d already gone", proc.pid)


class SSHChannel(Channel):
    """Runs commands on a remote host over SSH, verifying its host key.

    Parameters
    ----------
    hostname:
        Login node to connect to.
    username:
        Remote user; ``None`` means the local user name.
    password:
        Password, if the server accepts password authentication.
    script_dir:
        Folder on the remote host where submit scripts are pushed; created on first use.
        ``None`` lets the provider use its own script_dir path on the remote host.
    envs:
        Environment variables set for every remote command (prefixed as ``export``).
    port:
        SSH port.
    key_filename:
        Private key file (or list of files) to authenticate with; the SSH agent and
        ``~/.ssh/id_*`` keys are tried too unless ``key_filename`` is given.
    host_keys_filename:
        known_hosts file holding the server's key. ``None`` reads
        ``~/.ssh/known_hosts``. An unknown host or a different key raises
        :class:`BadHostKeyException`: the connection is never made to an unverified host.
    connect_timeout:
        Seconds to wait for the TCP connection and the SSH handshake.
    """

    @validate_init
    def __init__(self, hostname: str, username: Optional[str] = None,
                 password: Optional[str] = None, script_dir: Optional[str] = None,
                 envs: Optional[Dict[str, str]] = None, port: int = 22,
                 key_filename: Optional[Union[str, List[str]]] = None,
                 host_keys_filename: Optional[str] = None,
                 connect_timeout: Union[int, float] = 15) -> None:
        owner = type(self).__name__
        if not hostname:
            raise BadParameter(owner, "hostname", hostname, "a non-empty host name")
        if not 0 < port < 65536:
            raise BadParameter(owner, "port", port, "a TCP port between 1 and 65535")
        if connect_timeout <= 0:
            raise BadParameter(owner, "connect_timeout", connect_timeout, "a number > 0")
        self._hostname = hostname
        self.username = username
        self.password = password
        self.script_dir = script_dir
        self.envs: Dict[str, str] = dict(envs or {})
        self.port = port
        self.key_filename = key_filename
        self.host_keys_filename = host_keys_filename
        self.connect_timeout = connect_timeout
        self._client: Optional[paramiko.SSHClient] = None
        self._lock = threading.Lock()

    @property
    def hostname(self) -> str:
        return self._hostname

    def _paramiko(self) -> Any:
        try:
            import paramiko
        except ImportError as e:
            raise OptionalModuleMissing(["paramiko"], "SSHChannel runs scheduler commands "
                                        "over SSH with paramiko") from e
        return paramiko

    def _connect(self) -> paramiko.SSHClient:
        """Return a connected client, connecting (and verifying the host key) if needed."""
        if self._client is not None:
            transport = self._client.get_transport()
            if transport is not None and transport.is_active():
                return self._client
            self._client.close()
            self._client = None
        paramiko = self._paramiko()
        client = paramiko.SSHClient()
        known_hosts = self.host_keys_filename or os.path.expanduser("~/.ssh/known_hosts")
        if os.path.exists(known_hosts):
            try:
                client.load_host_keys(known_hosts)
            except OSError as e:
                raise BadHostKeyException(self.hostname,
                                          f"cannot read known_hosts file {known_hosts}: {e}"
                                          ) from e
        elif self.host_keys_filename is not None:
            raise BadHostKeyException(self.hostname,
                                      f"known_hosts file {known_hosts} does not exist")
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        logger.debug("SSH connecting to %s:%d as %s", self.hostname, self.port, self.username)
        try:
            client.connect(self.hostname, port=self.port, username=self.username,
                           password=self.password, key_filename=self.key_filename,
                           look_for_keys=self.key_filename is None,
                           allow_agent=self.key_filename is None,
                           timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                           auth_timeout=self.connect_timeout)
        except paramiko.BadHostKeyException as e:
            client.close()
            raise BadHostKeyException(
                self.hostname, f"the server's {e.key.get_name()} host key differs from the "
                f"one in {known_hosts}; refusing to connect (possible man-in-the-middle). "
                "Update known_hosts if the host was legitimately reinstalled") from e
        except paramiko.AuthenticationException as e:
            client.close()
            raise AuthException(self.hostname, f"authentication as {self.username!r} on port "
                                f"{self.port} failed: {e}") from e
        except paramiko.SSHException as e:
            client.close()
            if "not found in known_hosts" in str(e):
                raise BadHostKeyException(
                    self.hostname, f"host [{self.hostname}]:{self.port} is not in "
                    f"{known_hosts}; add its key (e.g. ssh-keyscan -p {self.port} "
                    f"{self.hostname} >> {known_hosts}) after checking it") from e
            raise SSHException(self.hostname, f"SSH error on port {self.port}: {e}") from e
        except OSError as e:
            client.close()
            raise SSHException(self.hostname, f"cannot connect to port {self.port}: {e}"
                               ) from e
        self._client = client
        return client

    def execute_wait(self, cmd: str, walltime: Optional[float] = None,
                     envs: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
        merged = dict(self.envs)
        if envs:
            merged.update(envs)
        prefix = "".join(f"export {name}={_shell_quote(value)}; "
                         for name, value in merged.items())
        with self._lock:
            client = self._connect()
            transport = client.get_transport()
            if transport is None:
                raise SSHException(self.hostname, "SSH transport closed unexpectedly")
            channel = transport.open_session(timeout=self.connect_timeout)
        logger.debug("SSH %s running %r with time bound %s s", self.hostname, cmd, walltime)
        channel.exec_command(prefix + cmd)
        channel.setblocking(False)
        out, err = bytearray(), bytearray()
        deadline = None if walltime is None else time.monotonic() + walltime
        try:
            while True:
                progressed = _drain(channel, out, err)
                if channel.exit_status_ready() and not channel.recv_ready() \
                        and not channel.recv_stderr_ready():
                    _drain(channel, out, err)
                    return (channel.recv_exit_status(), out.decode(errors="replace"),
                            err.decode(errors="replace"))
                if deadline is not None and time.monotonic() > deadline:
                    message = f"command timed out after {walltime} s on {self.hostname}: {cmd}"
                    logger.warning("%s", message)
                    return (TIMEOUT_EXIT_CODE, out.decode(errors="replace"),
                            (err.decode(errors="replace") + "\n" + message).strip())
                if not progressed:
                    time.sleep(0.01)
        finally:
            channel.close()

    def _sftp(self) -> Any:
        with self._lock:
            return self._connect().open_sftp()

    def push_file(self, source: str, dest_dir: str) -> str:
        destination = dest_dir.rstrip("/") + "/" + os.path.basename(source)
        self.makedirs(dest_dir, exist_ok=True)
        sftp = self._sftp()
        try:
            sftp.put(source, destination)
            sftp.chmod(destination, os.stat(source).st_mode & 0o777)
        except OSError as e:
            raise FileCopyException(self.hostname, f"cannot copy {source} to {destination}: "
                                    f"{e}") from e
        finally:
            sftp.close()
        logger.debug("Pushed %s to %s:%s", source, self.hostname, destination)
        return destination

    def makedirs(self, path: str, mode: int = 0o700, exist_ok: bool = False) -> None:
        flag = "-p" if exist_ok else ""
        code, _, err = self.execute_wait(f"mkdir {flag} -m {mode:o} {_shell_quote(path)}",
                                         walltime=self.connect_timeout)
        if code != 0:
            raise FileCopyException(self.hostname, f"cannot create folder {path}: "
                                     f"{err.strip()} (exit code {code})")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _drain(channel: Any, out: bytearray, err: bytearray) -> bool:
    progressed = False
    while channel.recv_ready():
        out.extend(channel.recv(_READ_CHUNK))
        progressed = True
    while channel.recv_stderr_ready():
        err.extend(channel.recv_stderr(_READ_CHUNK))
        progressed = True
    return progressed


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)

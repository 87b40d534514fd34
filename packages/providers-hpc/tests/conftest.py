"""Fixtures for the parsl-providers-hpc tests: the local Slurm, stand-in commands, sshd.

Slurm tests need the one-node cluster started by ``.ci/setup-slurm.sh``; they are skipped
with a loud reason only when ``sinfo`` is not on PATH. Stand-in scheduler commands are
bash scripts written into a folder put first on PATH: each records its arguments and
prints the output a test gives it, reproducing a real tool's documented format.
"""
from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path
from typing import Callable, Iterator, Optional, TypeVar

import polling
import pytest
from polling import free_port

T = TypeVar("T")

WAIT_SECONDS = 60.0


def wait_for(probe: Callable[[], Optional[T]], timeout: float = WAIT_SECONDS,
             what: str = "condition") -> T:
    """:func:`polling.wait_for` with this package's default bound."""
    return polling.wait_for(probe, timeout, what, interval=0.2)


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """Name of the local Slurm node; skips loudly when Slurm is not installed here."""
    if shutil.which("sinfo") is None:
        pytest.skip("SLURM NOT AVAILABLE: sinfo is not on PATH; run .ci/setup-slurm.sh "
                    "as root to start the one-node test cluster")
    result = subprocess.run(["sinfo", "--noheader", "--format=%n %t"], capture_output=True,
                            text=True, timeout=30, check=False)
    if result.returncode != 0:
        pytest.fail(f"sinfo is installed but Slurm does not answer: {result.stderr.strip()}; "
                    "run .ci/setup-slurm.sh")
    return result.stdout.split()[0]


def squeue_state(job_id: str) -> str:
    """The state squeue reports for a job (``--states=all``), or '' when not listed."""
    result = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%T",
                             f"--jobs={job_id}"], capture_output=True, text=True,
                            timeout=30, check=False)
    return result.stdout.strip()


@pytest.fixture
def script_dir(tmp_path: Path) -> str:
    path = tmp_path / "submit_scripts"
    path.mkdir()
    return str(path)


class StandIns:
    """Writes stand-in commands into a folder that is first on PATH for the test."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir

    def add(self, name: str, stdout: str = "", stderr: str = "", exit_code: int = 0,
            sleep: float = 0) -> Path:
        """Create command ``name`` printing ``stdout``/``stderr`` and exiting ``exit_code``.

        Each call's arguments are appended to ``<name>.args`` (one line per call) and its
        standard input, if any, saved to ``<name>.stdin``.
        """
        (self.bin_dir / f"{name}.stdout").write_text(stdout)
        (self.bin_dir / f"{name}.stderr").write_text(stderr)
        script = self.bin_dir / name
        script.write_text(
            "#!/bin/bash\n"
            f'here="{self.bin_dir}"\n'
            f'echo "$*" >> "$here/{name}.args"\n'
            f'if [ ! -t 0 ]; then cat > "$here/{name}.stdin"; fi\n'
            + (f"sleep {sleep}\n" if sleep else "")
            + f'cat "$here/{name}.stdout"\n'
            f'cat "$here/{name}.stderr" >&2\n'
            f"exit {exit_code}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return script

    def calls(self, name: str) -> list[str]:
        path = self.bin_dir / f"{name}.args"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIns:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return StandIns(bin_dir)


class SSHServer:
    """A running sshd: where it listens and the files a client needs to reach it."""

    def __init__(self, port: int, user_key: Path, known_hosts: Path, home: Path) -> None:
        self.port = port
        self.user_key = user_key
        self.known_hosts = known_hosts
        self.home = home


def _keygen(path: Path, key_type: str = "ed25519") -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-f", str(path)],
                   check=True, timeout=30)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """A real OpenSSH server on a free port of 127.0.0.1 accepting one generated user key."""
    sshd_path = "/usr/sbin/sshd"
    if not os.path.exists(sshd_path):
        pytest.skip("OPENSSH SERVER NOT AVAILABLE: /usr/sbin/sshd missing; run "
                    ".ci/setup-sshd.sh as root")
    base = tmp_path_factory.mktemp("sshd")
    # sshd's StrictModes wants the key folders private and owned by the user.
    base.chmod(0o700)
    host_key = base / "host_key"
    user_key = base / "user_key"
    _keygen(host_key)
    _keygen(user_key)
    authorized = base / "authorized_keys"
    authorized.write_text((base / "user_key.pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"PidFile {base / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nSubsystem sftp internal-sftp\n"
        "LogLevel VERBOSE\n")
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} " + (base / "host_key.pub").read_text())
    os.makedirs("/run/sshd", exist_ok=True)
    log = open(base / "sshd.log", "wb")
    proc = subprocess.Popen([sshd_path, "-D", "-e", "-f", str(config)], stdout=log,
                            stderr=subprocess.STDOUT)

    def listening() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with {proc.returncode}: "
                        f"{(base / 'sshd.log').read_text()}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, timeout=30, what="sshd to listen")
    try:
        yield SSHServer(port, user_key, known_hosts, base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture
def wait() -> Callable[..., object]:
    """The bounded polling helper :func:`wait_for`, for tests (conftest is not importable)."""
    return wait_for


@pytest.fixture
def squeue() -> Callable[[str], str]:
    """:func:`squeue_state`: the state squeue reports for a job id."""
    return squeue_state

"""Remote submission over SSH to a real OpenSSH server on 127.0.0.1.

The ``sshd`` fixture starts /usr/sbin/sshd on a free port with a generated host key and a
generated user key; SlurmProvider then drives the local Slurm cluster through it, exactly
as it would drive a login node from a laptop.
"""
from __future__ import annotations

import getpass
import socket
import subprocess
from pathlib import Path

import pytest

from parsl.jobs.states import JobState
from parsl.launchers.launchers import SimpleLauncher
from parsl_hpc.channels import AuthException, BadHostKeyException, SSHChannel, SSHException
from parsl_hpc.slurm import SlurmProvider

pytestmark = pytest.mark.sshd


def channel_for(server, **kwargs: object) -> SSHChannel:
    options: dict = {"username": getpass.getuser(), "port": server.port,
                     "key_filename": str(server.user_key),
                     "host_keys_filename": str(server.known_hosts)}
    options.update(kwargs)
    return SSHChannel("127.0.0.1", **options)  # type: ignore[arg-type]


def test_ssh_channel_runs_command_and_returns_exit_code_and_output(sshd):
    channel = channel_for(sshd)
    try:
        code, out, err = channel.execute_wait("echo out; echo err >&2; exit 7", 30)
    finally:
        channel.close()

    assert (code, out.strip(), err.strip()) == (7, "out", "err")


def test_ssh_command_exceeding_its_bound_is_reported_timed_out(sshd):
    channel = channel_for(sshd)
    try:
        code, _, err = channel.execute_wait("sleep 60", 1)
    finally:
        channel.close()

    assert code == -1 and "timed out" in err


def test_unknown_host_key_is_refused_with_clear_error(sshd, tmp_path):
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    channel = channel_for(sshd, host_keys_filename=str(empty_known_hosts))

    with pytest.raises(BadHostKeyException, match=r"not in .*known_hosts"):
        channel.execute_wait("true", 30)


def test_changed_host_key_is_refused_with_clear_error(sshd, tmp_path):
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True, timeout=30)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} " + Path(f"{other}.pub").read_text())
    channel = channel_for(sshd, host_keys_filename=str(wrong))

    with pytest.raises(BadHostKeyException, match="differs"):
        channel.execute_wait("true", 30)


def test_wrong_user_key_fails_authentication_with_clear_error(sshd, tmp_path):
    stranger = tmp_path / "stranger_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True, timeout=30)
    channel = channel_for(sshd, key_filename=str(stranger))

    with pytest.raises(AuthException, match="authentication"):
        channel.execute_wait("true", 30)


def test_nothing_listening_raises_ssh_exception(sshd):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = channel_for(sshd, port=port, connect_timeout=5)

    with pytest.raises(SSHException, match=f"port {port}"):
        channel.execute_wait("true", 30)


@pytest.mark.slurm
def test_slurm_provider_over_ssh_pushes_script_and_runs_job(sshd, slurm_cluster, tmp_path,
                                                            wait):
    remote_dir = tmp_path / "remote_scripts"
    channel = channel_for(sshd, script_dir=str(remote_dir))
    provider = SlurmProvider(channel=channel, exclusive=False, walltime="00:05:00",
                             launcher=SimpleLauncher(), cmd_timeout=30)
    provider.script_dir = str(tmp_path / "local_scripts")
    marker = tmp_path / "over_ssh.txt"
    try:
        job_id = provider.submit(f"echo via-ssh > {marker}", 1)
        status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                      what="the job submitted over SSH to finish")
    finally:
        channel.close()

    assert status.state is JobState.COMPLETED
    assert marker.read_text().strip() == "via-ssh"
    pushed = list(remote_dir.glob("*.submit"))
    assert len(pushed) == 1 and pushed[0].name == Path(
        provider.resources[job_id]["script_path"]).name


@pytest.mark.slurm
def test_slurm_provider_over_ssh_cancels_remote_job(sshd, slurm_cluster, tmp_path, wait,
                                                    squeue):
    channel = channel_for(sshd, script_dir=str(tmp_path / "remote_scripts"))
    provider = SlurmProvider(channel=channel, exclusive=False, walltime="00:05:00",
                             launcher=SimpleLauncher(), cmd_timeout=30)
    provider.script_dir = str(tmp_path / "local_scripts")
    try:
        job_id = provider.submit("sleep 300", 1)
        wait(lambda: squeue(job_id) == "RUNNING", what="the job to start")
        assert provider.cancel([job_id]) == [True]
    finally:
        channel.close()

    wait(lambda: squeue(job_id) in ("CANCELLED", ""), what="Slurm to end the job")

"""Fixtures for the parsl-providers-cloud tests: stand-in Kubernetes API, moto's EC2.

Neither a Kubernetes cluster nor AWS can be reached from the test machines. Kubernetes
tests use the real ``kubernetes`` client against :mod:`kube_standin`; AWS tests use boto3
against moto's server mode (a real HTTP endpoint on 127.0.0.1) and :mod:`ec2_standin`,
which stands in for cloud-init on the "instances". Both stand-ins run what a block would
run as local processes, so HTEX tasks really execute.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, TypeVar

import pytest

# The stand-in modules live next to this file; pytest's importlib mode does not put
# test folders on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import polling
from ec2_standin import CloudInit
from kube_standin import StandInKubeAPI
from polling import free_port

T = TypeVar("T")

#: Folder from which workers can import this test package by its rootdir-based name.
REPO_ROOT = str(Path(__file__).resolve().parents[3])


def wait_for(probe: Callable[[], Optional[T]], timeout: float = 60.0,
             what: str = "condition") -> T:
    """:func:`polling.wait_for` with this package's longer default bound."""
    return polling.wait_for(probe, timeout, what, interval=0.1)


@pytest.fixture
def wait() -> Callable[..., Any]:
    """The bounded polling helper :func:`wait_for`."""
    return wait_for


@pytest.fixture
def kube_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInKubeAPI]:
    """A stand-in Kubernetes API server, with KUBECONFIG pointing at it for the test."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p))
    api = StandInKubeAPI(tmp_path / "kubelet")
    monkeypatch.setenv("KUBECONFIG", str(api.write_kubeconfig(tmp_path / "kubeconfig")))
    try:
        yield api
    finally:
        api.close()


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections and never answers.

    It stands for an API endpoint that is unreachable in the worst way: connections
    succeed, responses never come, so only a client-side timeout ends a call.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._held: List[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="black-hole").start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)

    @property
    def connections(self) -> int:
        """How many connections clients have opened so far."""
        return len(self._held)

    def close(self) -> None:
        self._closed.set()
        self.sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's EC2 server on a free port of 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    # moto's server logs every request at INFO through werkzeug.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    _warm_up(endpoint)
    try:
        yield endpoint
    finally:
        server.stop()


def _client_config() -> Any:
    """Generous timeouts for the tests' own EC2 calls: moto is slow on a loaded machine."""
    from botocore.config import Config as BotoConfig

    return BotoConfig(connect_timeout=30, read_timeout=300, retries={"max_attempts": 1})


def _warm_up(endpoint: str) -> None:
    """moto builds its EC2 backend (AMIs, instance types, zones) on the first call; do it
    once per session, before any test's bounded waits start."""
    import boto3

    client = boto3.client("ec2", region_name=EC2.REGION, endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=_client_config())
    client.describe_availability_zones()
    client.describe_instances()


class EC2:
    """A fresh moto account for one test: a boto3 client and the cloud-init stand-in."""

    REGION = "us-east-2"
    #: One of moto's built-in AMIs.
    IMAGE = "ami-12c6146b"

    def __init__(self, endpoint: str, work_dir: Path) -> None:
        import boto3

        self.endpoint = endpoint
        self.client = boto3.client("ec2", region_name=self.REGION, config=_client_config())
        self.cloud_init = CloudInit(self.client, work_dir / "instances")

    def instances(self, **filters: List[str]) -> List[dict]:
        """Every instance moto knows, optionally filtered (``{"instance-state-name": [...]}``)."""
        reply = self.client.describe_instances(
            Filters=[{"Name": k.replace("_", "-"), "Values": v} for k, v in filters.items()])
        return [i for r in reply["Reservations"] for i in r["Instances"]]

    def state(self, instance_id: str) -> str:
        found = self.instances(instance_id=[instance_id])
        return str(found[0]["State"]["Name"]) if found else "unknown"

    def live_instances(self) -> List[str]:
        return [i["InstanceId"] for i in self.instances(
            instance_state_name=["pending", "running", "shutting-down", "stopping"])]


@pytest.fixture
def ec2(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EC2]:
    """An empty moto EC2 account reached through AWS_ENDPOINT_URL, test folder as cwd.

    Credentials are moto's dummy keys in the environment; instance metadata lookups are
    disabled so boto3 never waits for an EC2 metadata service that is not there.
    """
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset",
                                                  method="POST"), timeout=30).close()
    for key, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
                       "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials")
                       }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.chdir(tmp_path)
    account = EC2(moto_endpoint, tmp_path)
    try:
        yield account
    finally:
        account.cloud_init.close()

"""Fixtures for the parsl-staging tests: real servers on loopback and loaded DFKs.

HTTP(S) and FTP servers come from staging_servers.py; rsync runs over the real OpenSSH
server that the parsl-providers-hpc tests start (their ``sshd`` fixture, reused here).
A missing rsync or sshd is a setup failure (run .ci/setup-rsync.sh and
.ci/setup-sshd.sh), never a skip.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from typing import Any, Callable, Iterator, List

import pytest
from parsl_test_fixtures import _no_leftover_dfk  # noqa: F401 - autouse fixture

import parsl
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernel
from parsl.executors.threads import ThreadPoolExecutor

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from staging_servers import WORKER_INIT, RunningFTP, RunningHTTP  # noqa: E402


def _load_hpc_conftest() -> Any:
    path = os.path.join(TESTS_DIR, "..", "..", "providers-hpc", "tests", "conftest.py")
    spec = importlib.util.spec_from_file_location("_providers_hpc_test_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hpc = _load_hpc_conftest()
#: A real sshd on a free loopback port with a generated user key (providers-hpc's fixture).
sshd = _hpc.sshd


@pytest.fixture(autouse=True)
def node_tmp(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh temporary folder for this process (the thread executor's workers), so
    the default node cache (``$TMPDIR/parsl-staging-cache-<uid>``) of each test starts
    empty and nothing is left in the machine's /tmp."""
    folder = tmp_path / "node-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="module")
def http_server() -> Iterator[Any]:
    running = RunningHTTP(None)
    yield running.server
    running.stop()


@pytest.fixture(scope="module")
def tls_ca() -> Any:
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="module")
def https_server(tls_ca: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An HTTPS server for ``localhost`` whose certificate a throwaway CA signed;
    ``server.ca_bundle`` is that CA's certificate file."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(bundle))
    running = RunningHTTP(context)
    running.server.ca_bundle = str(bundle)  # type: ignore[attr-defined]
    yield running.server
    running.stop()


@pytest.fixture(scope="module")
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFTP]:
    root = tmp_path_factory.mktemp("ftproot")
    (root / "pub").mkdir()
    (root / "pub" / "hello.txt").write_bytes(b"hello over ftp\n")
    (root / "upload").mkdir()
    running = RunningFTP(str(root))
    yield running
    running.stop()


@pytest.fixture
def rsync_bin() -> str:
    path = shutil.which("rsync")
    if path is None:
        pytest.fail("rsync is not installed: run .ci/setup-rsync.sh as root")
    return path


@pytest.fixture
def load(tmp_path: Any) -> Iterator[Callable[..., DataFlowKernel]]:
    """``load(storage_access=..., working_dir=...)``: a DFK on a ThreadPoolExecutor."""
    loaded: List[DataFlowKernel] = []

    def _load(**executor_kwargs: Any) -> DataFlowKernel:
        executor_kwargs.setdefault("max_threads", 4)
        dfk = parsl.load(Config(executors=[ThreadPoolExecutor(label="threads",
                                                              **executor_kwargs)],
                                run_dir=str(tmp_path / "runinfo")))
        loaded.append(dfk)
        return dfk

    yield _load
    for dfk in loaded:
        dfk.cleanup()


@pytest.fixture
def load_htex(tmp_path: Any) -> Iterator[Callable[..., DataFlowKernel]]:
    """``load_htex(storage_access=..., working_dir=..., worker_init=...)``: a DFK on a real
    local HTEX (interchange, one LocalProvider block, 2 workers) whose workers import
    staging_test_apps; ``worker_init`` runs after that set-up."""
    pytest.importorskip("parsl_htex", reason="parsl-htex is not installed")
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    loaded: List[DataFlowKernel] = []

    def _load(worker_init: str = "", **executor_kwargs: Any) -> DataFlowKernel:
        provider = LocalProvider(init_blocks=1, max_blocks=1,
                                 worker_init=f"{WORKER_INIT}\n{worker_init}")
        executor = HighThroughputExecutor(label="htex", max_workers_per_node=2,
                                          address="127.0.0.1", provider=provider,
                                          **executor_kwargs)
        dfk = parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo")))
        loaded.append(dfk)
        return dfk

    yield _load
    for dfk in loaded:
        dfk.cleanup()

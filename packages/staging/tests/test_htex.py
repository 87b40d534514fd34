"""Staging on a real HighThroughputExecutor: separate-task and in-task, in and out.

One DFK with two real local HTEX executors (interchange, LocalProvider block, worker
processes) serves the module: ``separate`` stages with separate tasks, ``in_task`` inside
the tasks. Files travel between real servers on loopback and the worker processes, and
staging errors raised in workers come back with their type and URL.
"""
from __future__ import annotations

import zipfile
from typing import Any, Iterator

import pytest
from staging_servers import WORKER_INIT, Answer
from staging_test_apps import count_lines, read_inputs, write_outputs

from parsl import File, python_app
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernel
from parsl.dataflow.errors import DependencyError
from parsl_staging import (
    FTPInTaskStaging,
    FTPSeparateTaskStaging,
    HTTPInTaskStaging,
    HTTPSeparateTaskStaging,
    Retry,
    RSyncStaging,
    StagingError,
    ZipFileStaging,
)

pytestmark = [pytest.mark.slow, pytest.mark.sshd, pytest.mark.filterwarnings(
    "ignore:The asyn.* module is deprecated:DeprecationWarning")]

NO_RETRY = Retry(attempts=1)


@pytest.fixture(scope="module")
def htex(sshd: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataFlowKernel]:
    """Not loaded as the global DFK: apps name it, so it lives across the module."""
    pytest.importorskip("parsl_htex", reason="parsl-htex is not installed")
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    base = tmp_path_factory.mktemp("htex")
    worker_tmp = base / "worker-tmp"  # the workers' node cache goes there, not to /tmp
    worker_tmp.mkdir()
    ssh = (f"ssh -p {sshd.port} -i {sshd.user_key} -o UserKnownHostsFile={sshd.known_hosts} "
           "-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10")

    def executor(label: str, storage: Any) -> Any:
        return HighThroughputExecutor(
            label=label, max_workers_per_node=2, address="127.0.0.1",
            working_dir=str(base / label), storage_access=storage,
            provider=LocalProvider(init_blocks=1, max_blocks=1,
                                   worker_init=f"{WORKER_INIT}\nexport TMPDIR={worker_tmp}"))

    config = Config(executors=[
        executor("separate", [HTTPSeparateTaskStaging(retry=NO_RETRY),
                              FTPSeparateTaskStaging(), ZipFileStaging()]),
        executor("in_task", [HTTPInTaskStaging(retry=NO_RETRY), FTPInTaskStaging(),
                             RSyncStaging("127.0.0.1", ssh_command=ssh)]),
    ], run_dir=str(base / "runinfo"))
    dfk = DataFlowKernel(config)
    yield dfk
    dfk.cleanup()


def app(func: Any, dfk: DataFlowKernel, label: str) -> Any:
    return python_app(func, data_flow_kernel=dfk, executors=[label])


@pytest.mark.parametrize("label", ["separate", "in_task"])
def test_http_stage_in(label: str, htex: DataFlowKernel, http_server: Any) -> None:
    url = http_server.serve(f"/htex/{label}.txt", Answer(body=f"via {label}".encode()))
    read = app(read_inputs, htex, label)
    assert read(inputs=[File(url)]).result(timeout=120) == [f"via {label}".encode()]


@pytest.mark.parametrize("label", ["separate", "in_task"])
def test_ftp_stage_out(label: str, htex: DataFlowKernel, ftp_server: Any) -> None:
    write = app(write_outputs, htex, label)
    name = f"/upload/htex-{label}.txt"
    future = write(f"from {label}\n", outputs=[File(ftp_server.url(name, "writer:writer-pw"))])
    future.outputs[0].result(timeout=120)
    with open(ftp_server.root + name) as handle:
        assert handle.read() == f"from {label}\n"


def test_in_task_stage_in_wraps_a_function_that_travels_by_value(
        htex: DataFlowKernel, http_server: Any) -> None:
    url = http_server.serve("/htex/by-value.txt", Answer(body=b"by value"))

    def read_local(inputs: Any = ()) -> bytes:
        with open(inputs[0].filepath, "rb") as handle:
            return handle.read()

    assert app(read_local, htex, "in_task")(inputs=[File(url)]).result(timeout=120) == \
        b"by value"


def test_separate_task_404_fails_the_task_with_dependency_error(
        htex: DataFlowKernel, http_server: Any) -> None:
    url = http_server.serve("/htex/missing-sep.txt", Answer(404))
    read = app(read_inputs, htex, "separate")
    with pytest.raises(DependencyError, match="HTTP status 404"):
        read(inputs=[File(url)]).result(timeout=120)


def test_in_task_404_comes_back_from_the_worker_as_staging_error(
        htex: DataFlowKernel, http_server: Any) -> None:
    url = http_server.serve("/htex/missing-in.txt", Answer(404))
    read = app(read_inputs, htex, "in_task")
    with pytest.raises(StagingError) as failure:
        read(inputs=[File(url)]).result(timeout=120)
    assert failure.value.url == url
    assert "HTTP status 404" in str(failure.value)


def test_rsync_stage_in_inside_a_worker(htex: DataFlowKernel, rsync_bin: str,
                                        tmp_path: Any) -> None:
    source = tmp_path / "rsync-in.txt"
    source.write_text("rsynced\n")
    read = app(read_inputs, htex, "in_task")
    assert read(inputs=[File(str(source))]).result(timeout=120) == [b"rsynced\n"]


def test_zip_stage_out_then_in(htex: DataFlowKernel, tmp_path: Any) -> None:
    archive = tmp_path / "htex.zip"
    write = app(write_outputs, htex, "separate")
    lines = app(count_lines, htex, "separate")
    produced = write("a\nb\n", outputs=[File(f"zip:{archive}/sub/lines.txt")])
    assert lines(produced.outputs[0]).result(timeout=120) == 2
    with zipfile.ZipFile(archive) as z:
        assert z.read("sub/lines.txt") == b"a\nb\n"

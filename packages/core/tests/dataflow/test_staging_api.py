"""Core's staging API: what a staging provider written for Parsl relies on.

The providers here are written the way Parsl's documentation and test suite write them
(subclasses of ``Staging`` that set ``local_path``, launch staging apps with
``_parsl_staging_inhibit=True`` and return ``app_fut._outputs[0]``), run on a real DFK.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, Iterator, Optional

import pytest

import parsl
from parsl import File, python_app
from parsl.app.futures import DataFuture
from parsl.config import Config
from parsl.data_provider import data_manager
from parsl.data_provider.data_manager import DataManager
from parsl.data_provider.file_noop import NoOpFileStaging
from parsl.data_provider.staging import Staging
from parsl.dataflow.dflow import DataFlowKernel
from parsl.dataflow.errors import DependencyError
from parsl.executors.threads import ThreadPoolExecutor


class LocalPathStaging(Staging):
    """Sets a local path at stage-in and stage-out without launching tasks."""

    def can_stage_in(self, file: File) -> bool:
        return file.scheme == "sp2"

    def can_stage_out(self, file: File) -> bool:
        return file.scheme == "sp2"

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> None:
        file.local_path = "./staged-in.tmp"

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> None:
        file.local_path = "./staged-out.tmp"


class Failure(Exception):
    pass


def _copy_in(parent_fut: Any = None, outputs: Any = (), _parsl_staging_inhibit: bool = True
             ) -> None:
    if "missing" in outputs[0].url:
        raise Failure(f"cannot fetch {outputs[0].url}")


def _copy_out(app_fu: Any, inputs: Any = (), _parsl_staging_inhibit: bool = True) -> None:
    if "readonly" in inputs[0].url:
        raise Failure(f"cannot store {inputs[0].url}")


class SeparateTaskStaging(Staging):
    """Stages in and out with separate staging apps, as Parsl's own providers do."""

    def __init__(self) -> None:
        self.seen_inhibited: list[bool] = []

    def can_stage_in(self, file: File) -> bool:
        return file.scheme == "tst"

    def can_stage_out(self, file: File) -> bool:
        return file.scheme == "tst"

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> Optional[DataFuture]:
        file.local_path = "/staged/" + file.filename
        app = python_app(executors=[executor], data_flow_kernel=dm.dfk)(_copy_in)
        app_fut = app(outputs=[file], _parsl_staging_inhibit=True, parent_fut=parent_fut)
        return app_fut._outputs[0]  # type: ignore[no-any-return]

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> Future[Any]:
        app = python_app(executors=[executor], data_flow_kernel=dm.dfk)(_copy_out)
        return app(app_fu, inputs=[file], _parsl_staging_inhibit=True)  # type: ignore


@pytest.fixture
def load(run_dir: str) -> Iterator[Any]:
    loaded: list[DataFlowKernel] = []

    def _load(**executor_kwargs: Any) -> DataFlowKernel:
        dfk = parsl.load(Config(executors=[ThreadPoolExecutor(label="threads",
                                                              **executor_kwargs)],
                                run_dir=run_dir))
        loaded.append(dfk)
        return dfk

    yield _load
    for dfk in loaded:
        dfk.cleanup()


@python_app
def local_path_of(f: File) -> Optional[str]:
    return f.local_path


@python_app
def produce(outputs: Any = ()) -> str:
    return outputs[0].local_path


def test_default_staging_is_a_list_that_configs_can_extend() -> None:
    from parsl.data_provider.data_manager import default_staging

    assert isinstance(default_staging, list)
    assert isinstance(default_staging[0], NoOpFileStaging)
    extended = default_staging + [LocalPathStaging()]  # noqa: RUF005 - as Parsl's docs
    assert len(extended) == len(default_staging) + 1
    assert data_manager.default_staging is default_staging


def test_provider_sets_local_path_seen_by_the_task_but_not_the_users_file(load: Any) -> None:
    load(storage_access=[LocalPathStaging()])
    file = File("sp2://test")
    assert local_path_of(file).result(timeout=30) == "./staged-in.tmp"
    assert file.local_path is None


def test_data_future_input_is_staged_after_its_producer(load: Any) -> None:
    load(storage_access=[LocalPathStaging()])
    file = File("sp2://test")
    producer = produce(outputs=[file])
    assert producer.result(timeout=30) == "./staged-out.tmp"
    assert local_path_of(producer.outputs[0]).result(timeout=30) == "./staged-in.tmp"
    assert file.local_path is None


def test_empty_storage_access_rejects_any_file_at_the_app_call(load: Any) -> None:
    dfk = load(storage_access=[])
    with pytest.raises(ValueError, match=r"executor 'threads' cannot stage in file "
                                         r"'/tmp/x.txt'.*storage_access is \[\]"):
        local_path_of(File("/tmp/x.txt"))
    assert dfk.tasks == {}


def test_separate_task_stage_in_completes_before_the_task(load: Any) -> None:
    load(storage_access=[SeparateTaskStaging()])
    assert local_path_of(File("tst://host/a/in.dat")).result(timeout=30) == "/staged/in.dat"


def test_failed_stage_in_fails_the_task_with_dependency_error_naming_the_url(
        load: Any) -> None:
    load(storage_access=[SeparateTaskStaging()])
    future = local_path_of(File("tst://host/missing.dat"))
    with pytest.raises(DependencyError, match=r"cannot fetch tst://host/missing\.dat"):
        future.result(timeout=30)


def test_failed_stage_out_fails_the_data_future_and_logs_error_with_task_id(
        load: Any, caplog: pytest.LogCaptureFixture) -> None:
    load(storage_access=[SeparateTaskStaging()])
    caplog.set_level(logging.ERROR, logger="parsl.dataflow.dflow")
    future = produce(outputs=[File("tst://host/readonly/out.dat")])
    future.result(timeout=30)
    with pytest.raises(Failure, match=r"cannot store tst://host/readonly/out\.dat"):
        future.outputs[0].result(timeout=30)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR
              and "tst://host/readonly/out.dat" in r.getMessage()]
    assert errors and getattr(errors[0], "task_id", None) == future.tid


def test_file_stdout_is_staged_out_and_exposed_as_data_future(load: Any, tmp_path: Any
                                                               ) -> None:
    load()

    @parsl.bash_app
    def hello(stdout: Any = None) -> str:
        return "echo hello"

    target = tmp_path / "out.txt"
    future = hello(stdout=File(str(target)))
    assert isinstance(future.stdout, DataFuture)
    future.stdout.result(timeout=30)
    assert target.read_text() == "hello\n"


def test_checksum_is_kept_by_cleancopy_and_validated() -> None:
    f = File("https://h/x", checksum="SHA256:ABCD")
    assert f.cleancopy().checksum == "sha256:abcd"
    with pytest.raises(ValueError, match="checksum must be"):
        File("https://h/x", checksum="abcd")


def test_staging_apps_are_not_themselves_staged(load: Any) -> None:
    """``_parsl_staging_inhibit=True`` tasks get their Files unchanged (no recursion)."""
    load(storage_access=[])
    seen = threading.Event()

    @python_app
    def inhibited(outputs: Any = (), _parsl_staging_inhibit: bool = True) -> None:
        seen.set()

    inhibited(outputs=[File("tst://x/y")], _parsl_staging_inhibit=True).result(timeout=30)
    assert seen.is_set()


def test_providers_written_for_parsl_get_repr_from_representation_mixin() -> None:
    from parsl.utils import RepresentationMixin

    class HostStaging(Staging, RepresentationMixin):
        def __init__(self, hostname: str, port: int = 22) -> None:
            self.hostname = hostname
            self.port = port

    assert repr(HostStaging("example.org")) == "HostStaging('example.org', port=22)"


def test_representation_mixin_in_validate_mode_names_an_unstored_parameter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from parsl.utils import RepresentationMixin

    class Forgetful(RepresentationMixin):
        def __init__(self, kept: int, dropped: int) -> None:
            self.kept = kept

    assert repr(Forgetful(1, 2)) == "Forgetful(1, '<unrecorded>')"
    monkeypatch.setattr(RepresentationMixin, "_validate_repr", True)
    with pytest.raises(AttributeError, match="uses dropped in the constructor"):
        repr(Forgetful(1, 2))

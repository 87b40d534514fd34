"""Parsl's import paths (parsl.executors, parsl.providers, ...) resolve through the registry."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import parsl.executors
import parsl.providers
from parsl.errors import PluginNotInstalled
from parsl.plugins import aliases, known

HEAVY_MODULES = ("zmq", "boto3", "kubernetes", "globus_sdk", "paramiko", "sqlalchemy")


def test_from_parsl_executors_import_thread_pool_executor() -> None:
    from parsl.executors import ThreadPoolExecutor
    from parsl.executors.threads import ThreadPoolExecutor as Real

    assert ThreadPoolExecutor is Real


def test_core_launchers_and_providers_resolve_by_name() -> None:
    from parsl.launchers import SimpleLauncher, SingleNodeLauncher
    from parsl.providers import LocalProvider

    assert LocalProvider.__name__ == "LocalProvider"
    assert {SimpleLauncher.__name__, SingleNodeLauncher.__name__} == {
        "SimpleLauncher", "SingleNodeLauncher"}


def test_plugin_executor_is_importable_from_parsl_executors(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.executors": {
        "FakeExecutor": "fakeplug_exec:FakeExecutor"}},
        modules={"fakeplug_exec": "class FakeExecutor:\n    pass\n"})
    from parsl.executors import FakeExecutor  # type: ignore[attr-defined]

    assert FakeExecutor.__module__ == "fakeplug_exec"


def test_namespace_all_and_dir_list_registered_names(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.executors": {
        "FakeExecutor": "fakeplug_exec:FakeExecutor"}})
    assert {"ThreadPoolExecutor", "FakeExecutor"} <= set(parsl.executors.__all__)
    assert "FakeExecutor" in dir(parsl.executors)


def test_known_name_of_missing_distribution_is_an_import_error_naming_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(known.KNOWN_COMPONENTS["provider"], "FakeBatchProvider",
                        "parsl-fake-batch")
    with pytest.raises(ImportError, match="pip install parsl-fake-batch"):
        from parsl.providers import FakeBatchProvider  # type: ignore[attr-defined] # noqa: F401


def test_slurm_provider_without_hpc_distribution_names_parsl_providers_hpc(
        hide_distribution) -> None:
    hide_distribution("parsl-providers-hpc")
    with pytest.raises(ImportError, match="pip install parsl-providers-hpc"):
        from parsl.providers import SlurmProvider  # type: ignore[attr-defined] # noqa: F401


def test_monitoring_hub_without_monitoring_distribution_names_it(hide_distribution) -> None:
    hide_distribution("parsl-monitoring")
    with pytest.raises(ImportError, match="pip install parsl-monitoring"):
        from parsl.monitoring import MonitoringHub  # type: ignore[attr-defined] # noqa: F401


def test_htex_module_path_without_htex_distribution_names_parsl_htex(hide_distribution) -> None:
    hide_distribution("parsl-htex")
    with pytest.raises(PluginNotInstalled, match="pip install parsl-htex"):
        importlib.import_module("parsl.executors.high_throughput.executor")


def test_core_staging_resolves_from_parsl_data_provider() -> None:
    from parsl.data_provider import NoOpFileStaging  # type: ignore[attr-defined]
    from parsl.data_provider.file_noop import NoOpFileStaging as Real

    assert NoOpFileStaging is Real


def test_unknown_name_is_an_import_error() -> None:
    with pytest.raises(ImportError, match="NoSuchExecutor"):
        from parsl.executors import NoSuchExecutor  # type: ignore[attr-defined] # noqa: F401


def test_hasattr_of_unknown_name_is_false() -> None:
    assert not hasattr(parsl.executors, "NoSuchExecutor")


def test_compat_module_path_is_the_plugins_real_module(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.compat_modules": {
        "parsl.executors.fake_compat.executor": "fakeplug_real.executor"}},
        modules={"fakeplug_real.executor": "class FakeExecutor:\n    pass\n"})
    compat = importlib.import_module("parsl.executors.fake_compat.executor")
    real = importlib.import_module("fakeplug_real.executor")
    assert compat is real
    assert real.__spec__.name == "fakeplug_real.executor"


def test_from_compat_module_path_import_class(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.compat_modules": {
        "parsl.providers.fake_batch.fake_batch": "fakeplug_real.batch"}},
        modules={"fakeplug_real.batch": "class FakeBatchProvider:\n    pass\n"})
    from parsl.providers.fake_batch.fake_batch import (  # type: ignore[import-not-found]
        FakeBatchProvider,
    )

    assert FakeBatchProvider.__module__ == "fakeplug_real.batch"


def test_submodule_of_aliased_package_is_not_imported_twice(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.compat_modules": {
        "parsl.executors.fake_pkg": "fakeplug_pkg"}},
        modules={"fakeplug_pkg.__init__": "", "fakeplug_pkg.inner": "MARKER = object()\n"})
    via_alias = importlib.import_module("parsl.executors.fake_pkg.inner")
    assert via_alias is importlib.import_module("fakeplug_pkg.inner")


def test_module_declared_deep_below_an_aliased_package_imports_through_parsl_packages(
        fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.compat_modules": {
        "parsl.executors.fake_viz": "fakeplug_viz",
        "parsl.executors.fake_viz.plots.default.colours": "fakeplug_viz.palette"}},
        modules={"fakeplug_viz.__init__": "", "fakeplug_viz.palette": "RED = 1\n"})
    deep = importlib.import_module("parsl.executors.fake_viz.plots.default.colours")
    assert deep is importlib.import_module("fakeplug_viz.palette")


def test_compat_module_of_known_missing_distribution_raises_naming_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(known.KNOWN_MODULES, "parsl.providers.fake_missing", "parsl-fake-batch")
    with pytest.raises(PluginNotInstalled, match="pip install parsl-fake-batch"):
        importlib.import_module("parsl.providers.fake_missing.fake_missing")


def test_unknown_parsl_module_is_module_not_found() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("parsl.executors.no_such_module_anywhere")


def test_install_is_idempotent() -> None:
    aliases.install()
    aliases.install()
    finders = [f for f in sys.meta_path if type(f).__module__ == "parsl.plugins.aliases"]
    assert len(finders) == 2


def _modules_after(statement: str) -> set:
    code = (f"import sys\n{statement}\n"
            f"print(' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    return set(out.stdout.split())


def test_import_parsl_imports_no_heavy_dependency() -> None:
    assert _modules_after("import parsl") == set()


def test_importing_thread_pool_executor_imports_no_heavy_dependency() -> None:
    assert _modules_after("from parsl.executors import ThreadPoolExecutor") == set()


def test_known_module_path_not_declared_by_its_installed_distribution_says_so(
        fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dist("parsl-fake-batch", entry_points={"parsl.providers": {"X": "x:X"}})
    monkeypatch.setitem(known.KNOWN_MODULES, "parsl.providers.fake_undeclared",
                        "parsl-fake-batch")
    with pytest.raises(ModuleNotFoundError, match="parsl-fake-batch, which is installed"):
        importlib.import_module("parsl.providers.fake_undeclared")

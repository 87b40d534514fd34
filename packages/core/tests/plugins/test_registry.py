"""The component registry: discovery from entry points, lazy loading, and its errors."""
from __future__ import annotations

import sys

import pytest

from parsl.errors import PluginConflict, PluginNotInstalled, UnknownComponent
from parsl.plugins import known, registry

EXECUTOR_MODULE = """
class FakeExecutor:
    pass

class OtherExecutor:
    pass
"""


def test_core_registers_its_own_components_through_entry_points() -> None:
    names = {(c.kind, c.name): c.distribution for c in registry.components()}
    assert names[("executor", "ThreadPoolExecutor")] == "parsl-core"
    assert names[("provider", "LocalProvider")] == "parsl-core"
    assert names[("launcher", "SingleNodeLauncher")] == "parsl-core"
    assert names[("serializer", "pickle")] == "parsl-core"


def test_components_reports_distribution_and_version(fake_dist) -> None:
    fake_dist("parsl-fake", "3.2.1", {"parsl.executors": {
        "FakeExecutor": "fakeplug_exec:FakeExecutor"}}, {"fakeplug_exec": EXECUTOR_MODULE})
    [component] = [c for c in registry.components("executor") if c.name == "FakeExecutor"]
    assert component == registry.Component("executor", "FakeExecutor",
                                           "fakeplug_exec:FakeExecutor", "parsl-fake", "3.2.1")


def test_listing_components_imports_no_plugin_code(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.providers": {
        "BoomProvider": "fakeplug_boom:BoomProvider"}},
        modules={"fakeplug_boom": "raise RuntimeError('imported while listing')"})
    assert "BoomProvider" in registry.names("provider")
    assert "fakeplug_boom" not in sys.modules


def test_load_imports_the_component_on_first_use(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.executors": {
        "FakeExecutor": "fakeplug_exec:FakeExecutor"}}, modules={"fakeplug_exec": EXECUTOR_MODULE})
    assert "fakeplug_exec" not in sys.modules
    cls = registry.load("executor", "FakeExecutor")
    assert cls is sys.modules["fakeplug_exec"].FakeExecutor


def test_load_returns_the_cached_object_on_later_calls(fake_dist) -> None:
    fake_dist("parsl-fake", entry_points={"parsl.executors": {
        "FakeExecutor": "fakeplug_exec:FakeExecutor"}}, modules={"fakeplug_exec": EXECUTOR_MODULE})
    first = registry.load("executor", "FakeExecutor")
    del sys.modules["fakeplug_exec"]
    assert registry.load("executor", "FakeExecutor") is first


def test_unknown_name_raises_unknown_component_listing_installed_names() -> None:
    with pytest.raises(UnknownComponent) as info:
        registry.load("executor", "NoSuchExecutor")
    assert "NoSuchExecutor" in str(info.value)
    assert "ThreadPoolExecutor" in str(info.value)


def test_known_name_of_missing_distribution_raises_import_error_naming_pip_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(known.KNOWN_COMPONENTS["provider"], "FakeBatchProvider",
                        "parsl-fake-batch")
    with pytest.raises(PluginNotInstalled) as info:
        registry.load("provider", "FakeBatchProvider")
    assert isinstance(info.value, ImportError)
    assert "pip install parsl-fake-batch" in str(info.value)


def test_known_table_names_the_distribution_of_parsl_public_classes() -> None:
    assert known.distribution_for_name("provider", "SlurmProvider") == "parsl-providers-hpc"
    assert known.distribution_for_name("executor", "HighThroughputExecutor") == "parsl-htex"
    assert known.distribution_for_name("staging", "GlobusStaging") == "parsl-staging"
    assert (known.distribution_for_module("parsl.executors.high_throughput.executor")
            == "parsl-htex")
    assert known.distribution_for_module("parsl.executors.threads") is None


def test_two_distributions_claiming_one_name_raise_a_conflict_naming_both(fake_dist) -> None:
    for dist in ("parsl-fake-a", "parsl-fake-b"):
        fake_dist(dist, entry_points={"parsl.executors": {
            "FakeExecutor": "fakeplug_exec:FakeExecutor"}})
    with pytest.raises(PluginConflict) as info:
        registry.load("executor", "FakeExecutor")
    assert "parsl-fake-a" in str(info.value)
    assert "parsl-fake-b" in str(info.value)


def test_a_conflict_leaves_other_names_working(fake_dist) -> None:
    fake_dist("parsl-fake-a", entry_points={"parsl.executors": {
        "FakeExecutor": "fakeplug_exec:FakeExecutor",
        "OtherExecutor": "fakeplug_exec:OtherExecutor"}},
        modules={"fakeplug_exec": EXECUTOR_MODULE})
    fake_dist("parsl-fake-b", entry_points={"parsl.executors": {
        "FakeExecutor": "fakeplug_exec:FakeExecutor"}})
    assert registry.load("executor", "OtherExecutor").__name__ == "OtherExecutor"
    assert [c.name for c in registry.conflicts()] == ["FakeExecutor"]


def test_same_distribution_found_twice_on_sys_path_is_not_a_conflict(fake_dist) -> None:
    for _ in range(2):
        fake_dist("parsl-fake", entry_points={"parsl.executors": {
            "FakeExecutor": "fakeplug_exec:FakeExecutor"}},
            modules={"fakeplug_exec": EXECUTOR_MODULE})
    assert registry.conflicts() == []
    assert registry.load("executor", "FakeExecutor").__name__ == "FakeExecutor"


def test_refresh_discovers_a_distribution_installed_after_the_first_scan(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.refresh()
    assert "LateExecutor" not in registry.names("executor")
    info = tmp_path / "parsl_late-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: parsl-late\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[parsl.executors]\nLateExecutor = late:Late\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "LateExecutor" not in registry.names("executor")
    registry.refresh()
    try:
        assert "LateExecutor" in registry.names("executor")
    finally:
        monkeypatch.undo()
        registry.refresh()


def test_plugin_that_fails_to_import_raises_import_error_naming_it(fake_dist) -> None:
    fake_dist("parsl-fake-broken", entry_points={"parsl.providers": {
        "BrokenProvider": "fakeplug_broken:BrokenProvider"}},
        modules={"fakeplug_broken": "import fakeplug_dependency_that_is_missing\n"})
    with pytest.raises(ImportError) as info:
        registry.load("provider", "BrokenProvider")
    assert "BrokenProvider" in str(info.value)
    assert "parsl-fake-broken" in str(info.value)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_unknown_kind_is_a_value_error_listing_kinds() -> None:
    with pytest.raises(ValueError, match="provider"):
        registry.components("providers")

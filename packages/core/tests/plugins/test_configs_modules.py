"""parsl.configs: Parsl's ready-made configuration modules, each defining ``config``."""
from __future__ import annotations

import importlib
import sys

import pytest

from parsl.config import Config
from parsl.errors import ComponentNotProvided, PluginNotInstalled

#: Modules whose components core, parsl-htex and parsl-providers-hpc provide, and that
#: name no network interface: they build a Config on any machine.
BUILDABLE = ["local_threads", "htex_local", "anvil", "cc_in2p3", "delta", "expanse",
             "frontera", "illinoiscluster", "improv"]


def _fresh_import(name: str):
    sys.modules.pop(f"parsl.configs.{name}", None)
    return importlib.import_module(f"parsl.configs.{name}")


@pytest.mark.parametrize("name", BUILDABLE)
def test_config_module_defines_a_config(name: str) -> None:
    module = _fresh_import(name)
    assert isinstance(module.config, Config)
    assert module.config.executors


def test_local_threads_is_a_thread_pool_with_default_threads() -> None:
    from parsl.executors.threads import ThreadPoolExecutor

    config = _fresh_import("local_threads").config
    assert [type(e) for e in config.executors] == [ThreadPoolExecutor]
    assert config.usage_tracking == 1


def test_htex_local_has_one_local_block() -> None:
    executor = _fresh_import("htex_local").config.executors[0]
    assert executor.label == "htex_local"
    assert type(executor).__name__ == "HighThroughputExecutor"
    assert (executor.provider.init_blocks, executor.provider.max_blocks) == (1, 1)


def test_config_bound_to_a_missing_network_interface_names_it() -> None:
    with pytest.raises(ValueError, match="'bond0' does not exist"):
        _fresh_import("midway")


def test_config_of_a_plugin_not_installed_names_the_distribution(hide_distribution) -> None:
    hide_distribution("parsl-providers-hpc")
    with pytest.raises(PluginNotInstalled, match="pip install parsl-providers-hpc"):
        _fresh_import("anvil")


def test_config_of_a_component_no_distribution_provides_says_so() -> None:
    with pytest.raises(ComponentNotProvided,
                       match=r"'FluxExecutor'.*no distribution of this project provides it"):
        _fresh_import("toss3_llnl")


def test_usage_tracking_levels_have_parsl_values() -> None:
    from parsl.usage_tracking import levels

    assert (levels.DISABLED, levels.LEVEL_1, levels.LEVEL_2, levels.LEVEL_3) == (0, 1, 2, 3)

"""TOML configs: components by registry name, nested, checked like Python constructors."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from parsl.config import Config
from parsl.config_toml import load_toml
from parsl.errors import BadParameter, ConfigurationError

BLOCK_EXECUTOR = """
from typing import List, Optional, Tuple

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.executors.base import ParslExecutor
from parsl.providers.base import ExecutionProvider


class BlockExecutor(ParslExecutor):
    @validate_init
    def __init__(self, label: str = "block", provider: Optional[ExecutionProvider] = None,
                 storage_access: Optional[List[Staging]] = None,
                 address_range: Tuple[int, int] = (0, 1)) -> None:
        super().__init__()
        self.label = label
        self.provider = provider
        self.storage_access = storage_access
        self.address_range = address_range

    def start(self):
        pass

    def submit(self, func, resource_specification, *args, **kwargs):
        raise NotImplementedError
"""


@pytest.fixture
def block_executor(fake_dist) -> None:
    fake_dist("parsl-fake-block", entry_points={"parsl.executors": {
        "BlockExecutor": "fakeplug_block:BlockExecutor"}},
        modules={"fakeplug_block": BLOCK_EXECUTOR})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_top_level_keys_are_config_parameters(tmp_path: Path) -> None:
    config = load_toml(write(tmp_path, """
        retries = 2
        run_dir = "elsewhere"
        """))
    assert (config.retries, config.run_dir) == (2, "elsewhere")


def test_executors_are_built_from_their_registry_names(tmp_path: Path) -> None:
    config = load_toml(write(tmp_path, """
        [[executors]]
        type = "ThreadPoolExecutor"
        label = "first"
        max_threads = 3

        [[executors]]
        type = "ThreadPoolExecutor"
        label = "second"
        """))
    assert [(e.label, type(e).__name__) for e in config.executors] == [
        ("first", "ThreadPoolExecutor"), ("second", "ThreadPoolExecutor")]
    assert config.executors[0].max_threads == 3  # type: ignore[attr-defined]


def test_executor_provider_launcher_nest(tmp_path: Path, block_executor: None) -> None:
    config = load_toml(write(tmp_path, """
        [[executors]]
        type = "BlockExecutor"
        label = "htex_local"

        [executors.provider]
        type = "LocalProvider"
        init_blocks = 1

        [executors.provider.launcher]
        type = "SingleNodeLauncher"
        """))
    provider = config.executors[0].provider  # type: ignore[attr-defined]
    assert type(provider).__name__ == "LocalProvider"
    assert type(provider.launcher).__name__ == "SingleNodeLauncher"


def test_component_given_by_name_alone(tmp_path: Path, block_executor: None) -> None:
    config = load_toml(write(tmp_path, """
        [[executors]]
        type = "BlockExecutor"
        provider = "LocalProvider"
        storage_access = ["NoOpFileStaging"]
        """))
    executor = config.executors[0]
    assert type(executor.provider).__name__ == "LocalProvider"  # type: ignore[attr-defined]
    assert [type(s).__name__ for s in executor.storage_access] == [  # type: ignore[attr-defined]
        "NoOpFileStaging"]


def test_arrays_are_accepted_for_tuple_parameters(tmp_path: Path, block_executor: None) -> None:
    config = load_toml(write(tmp_path, """
        [[executors]]
        type = "BlockExecutor"
        address_range = [5, 9]
        """))
    assert config.executors[0].address_range == (5, 9)  # type: ignore[attr-defined]


def test_config_from_toml_builds_the_same_config(tmp_path: Path) -> None:
    path = write(tmp_path, """
        retries = 1
        [[executors]]
        type = "ThreadPoolExecutor"
        label = "t"
        """)
    config = Config.from_toml(path)
    assert config.retries == 1
    assert config.executors[0].label == "t"


def test_unknown_type_names_file_table_field_and_installed_names(tmp_path: Path) -> None:
    path = write(tmp_path, """
        [[executors]]
        type = "NoSuchExecutor"
        """)
    with pytest.raises(ConfigurationError) as info:
        load_toml(path)
    message = str(info.value)
    for part in (str(path), "executors[0]", "'type'", "NoSuchExecutor", "ThreadPoolExecutor"):
        assert part in message


def test_type_of_missing_distribution_says_what_to_install(tmp_path: Path,
                                                           block_executor: None,
                                                           hide_distribution) -> None:
    hide_distribution("parsl-providers-hpc")
    with pytest.raises(ConfigurationError, match="pip install parsl-providers-hpc"):
        load_toml(write(tmp_path, """
            [[executors]]
            type = "BlockExecutor"
            [executors.provider]
            type = "SlurmProvider"
            """))


def test_unknown_parameter_names_file_table_and_field(tmp_path: Path,
                                                      block_executor: None) -> None:
    path = write(tmp_path, """
        [[executors]]
        type = "BlockExecutor"
        [executors.provider]
        type = "LocalProvider"
        init_blokcs = 1
        """)
    with pytest.raises(ConfigurationError) as info:
        load_toml(path)
    message = str(info.value)
    for part in (str(path), "executors[0].provider", "init_blokcs", "init_blocks"):
        assert part in message


def test_wrong_type_names_file_table_field_and_expected_type(tmp_path: Path) -> None:
    path = write(tmp_path, """
        [[executors]]
        type = "ThreadPoolExecutor"
        max_threads = "four"
        """)
    with pytest.raises(BadParameter) as info:
        load_toml(path)
    message = str(info.value)
    for part in (str(path), "executors[0]", "max_threads", "'four'", "int"):
        assert part in message


def test_value_rejected_by_constructor_names_file_and_table(tmp_path: Path) -> None:
    path = write(tmp_path, "retries = -1\n")
    with pytest.raises(BadParameter) as info:
        load_toml(path)
    assert str(path) in str(info.value)
    assert "retries" in str(info.value)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "retries = \n")
    with pytest.raises(ConfigurationError) as info:
        load_toml(path)
    assert str(path) in str(info.value)
    assert "line 1" in str(info.value)


def test_missing_type_field_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """
        [[executors]]
        label = "x"
        """)
    with pytest.raises(ConfigurationError, match=r"executors\[0\]: field 'type'"):
        load_toml(path)


def test_parsl_load_runs_apps_on_a_toml_config(tmp_path: Path) -> None:
    import parsl

    path = write(tmp_path, f"""
        run_dir = "{tmp_path / 'runinfo'}"
        [[executors]]
        type = "ThreadPoolExecutor"
        label = "from_toml"
        """)

    @parsl.python_app(executors=["from_toml"])
    def double(x: int) -> int:
        return 2 * x

    with parsl.load(str(path)):
        assert double(21).result(timeout=30) == 42

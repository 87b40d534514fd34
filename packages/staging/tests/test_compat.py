"""Parsl's names and module paths for staging resolve to parsl-staging, lazily."""
from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest


@pytest.mark.parametrize("module, names", [
    ("parsl.data_provider.http", ["HTTPSeparateTaskStaging", "HTTPInTaskStaging"]),
    ("parsl.data_provider.ftp", ["FTPSeparateTaskStaging", "FTPInTaskStaging"]),
    ("parsl.data_provider.rsync", ["RSyncStaging"]),
    ("parsl.data_provider.globus", ["GlobusStaging", "cli_run"]),
    ("parsl.data_provider.zip", ["ZipFileStaging", "ZipAuthorityError", "zip_path_split"]),
])
def test_parsl_module_paths_import_the_providers(module: str, names: list[str]) -> None:
    import importlib

    imported = importlib.import_module(module)
    for name in names:
        assert getattr(imported, name) is not None


def test_data_provider_namespace_and_package_give_the_same_class() -> None:
    from parsl.data_provider import HTTPInTaskStaging as via_namespace
    from parsl.data_provider.http import HTTPInTaskStaging as via_module
    from parsl_staging import HTTPInTaskStaging

    assert via_namespace is via_module is HTTPInTaskStaging


def test_default_staging_holds_noop_ftp_http_and_zip_in_parsls_order() -> None:
    from parsl.data_provider.data_manager import default_staging

    assert [type(p).__name__ for p in default_staging] == [
        "NoOpFileStaging", "FTPSeparateTaskStaging", "HTTPSeparateTaskStaging",
        "ZipFileStaging"]


def test_importing_parsl_and_providers_imports_no_transfer_library() -> None:
    code = ("import sys, parsl\n"
            "from parsl.data_provider.data_manager import default_staging\n"
            "from parsl.data_provider.globus import GlobusStaging\n"
            "from parsl.data_provider.rsync import RSyncStaging\n"
            "heavy = ('requests', 'urllib3', 'globus_sdk', 'filelock')\n"
            "loaded = [m for m in heavy if m in sys.modules]\n"
            "print(','.join(loaded))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == ""


def test_toml_config_names_staging_providers_with_their_parameters(tmp_path: Any) -> None:
    from parsl.config import Config
    from parsl.errors import BadParameter
    from parsl_staging import HTTPInTaskStaging, RSyncStaging

    site = tmp_path / "site.toml"
    site.write_text('[[executors]]\ntype = "ThreadPoolExecutor"\n'
                    '[[executors.storage_access]]\ntype = "HTTPInTaskStaging"\ntimeout = 5\n'
                    '[[executors.storage_access]]\ntype = "RSyncStaging"\n'
                    'hostname = "me@host"\n')
    providers = Config.from_toml(str(site)).executors[0].storage_access
    assert isinstance(providers[0], HTTPInTaskStaging) and providers[0].timeout == 5.0
    assert isinstance(providers[1], RSyncStaging) and providers[1].hostname == "me@host"
    site.write_text('[[executors]]\ntype = "ThreadPoolExecutor"\n'
                    '[[executors.storage_access]]\ntype = "HTTPInTaskStaging"\n'
                    'timeout = "fast"\n')
    with pytest.raises(BadParameter, match=r"storage_access\[0\].*'timeout' got 'fast'"):
        Config.from_toml(str(site))

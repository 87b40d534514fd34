"""The out-of-tree plugin in examples/parsl-example-plugin is discovered after pip install.

The example is really installed with pip (into a temporary ``--target`` folder, put on
PYTHONPATH of fresh interpreters), so this exercises exactly what a third party gets:
entry points written by the build backend, read by Parsl's registry.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "parsl-example-plugin"


def _can_build_without_isolation() -> bool:
    """setuptools builds wheels by itself from 70.1; before that it needs `wheel`."""
    import setuptools

    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("example-plugin")
    source = work / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = work / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--disable-pip-version-check", "--target", str(site), str(source)]
    if _can_build_without_isolation():
        command.insert(4, "--no-build-isolation")
    result = subprocess.run(command, capture_output=True, text=True, timeout=240,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return site


def _python(site: Path, code: str, cwd: Path) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, env=env, cwd=cwd, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_parsl_plugins_lists_the_installed_example_executor(plugin_site: Path,
                                                            tmp_path: Path) -> None:
    out = _python(plugin_site, "from parsl.cli import main; main(['plugins'])", tmp_path)
    rows = [line.split() for line in out.splitlines()]
    assert ["executor", "InlineExecutor", "parsl-example-plugin", "0.1.0"] in rows


def test_example_executor_imports_from_parsl_executors_and_runs_apps(plugin_site: Path,
                                                                     tmp_path: Path) -> None:
    out = _python(plugin_site, """
        import parsl
        from parsl.config import Config
        from parsl.executors import InlineExecutor

        @parsl.python_app
        def add(a, b):
            return a + b

        executor = InlineExecutor(label="inline")
        with parsl.load(Config(executors=[executor], run_dir="runinfo")):
            print(add(add(1, 2), 4).result(timeout=60), executor.tasks_run)
        """, tmp_path)
    assert out.split() == ["7", "2"]


def test_example_compat_module_path_is_the_plugin_module(plugin_site: Path,
                                                         tmp_path: Path) -> None:
    out = _python(plugin_site, """
        import parsl
        import parsl.executors.inline as compat
        import parsl_example_plugin.executor as real
        print(compat is real)
        """, tmp_path)
    assert out.strip() == "True"


def test_example_executor_is_usable_from_a_toml_config(plugin_site: Path,
                                                       tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text('[[executors]]\ntype = "InlineExecutor"\n'
                                        'label = "from_toml"\n')
    out = _python(plugin_site, """
        from parsl.config import Config
        config = Config.from_toml("site.toml")
        print(type(config.executors[0]).__name__, config.executors[0].label)
        """, tmp_path)
    assert out.split() == ["InlineExecutor", "from_toml"]

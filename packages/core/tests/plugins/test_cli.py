"""The ``parsl`` command line: ``parsl plugins``, ``--help``, ``--version``."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from parsl.cli import main
from parsl.version import VERSION


def _parsl(*args: str, pythonpath: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath,
                                                          env.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "parsl.cli", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def test_parsl_plugins_lists_core_components_with_distribution_and_version() -> None:
    result = _parsl("plugins")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["KIND", "NAME", "DISTRIBUTION", "VERSION"]
    assert ["executor", "ThreadPoolExecutor", "parsl-core", VERSION] in rows
    assert ["serializer", "pickle", "parsl-core", VERSION] in rows


def test_parsl_plugins_lists_a_plugin_without_importing_it(fake_dist) -> None:
    root = fake_dist("parsl-fake", "0.3", entry_points={"parsl.providers": {
        "BoomProvider": "fakeplug_boom:BoomProvider"}},
        modules={"fakeplug_boom": "raise RuntimeError('imported by parsl plugins')"})
    result = _parsl("plugins", pythonpath=str(root))
    assert result.returncode == 0, result.stderr
    assert ["provider", "BoomProvider", "parsl-fake", "0.3"] in [
        line.split() for line in result.stdout.splitlines()]


def test_parsl_plugins_reports_conflicts_and_exits_1(fake_dist, capsys) -> None:
    for dist in ("parsl-fake-a", "parsl-fake-b"):
        fake_dist(dist, entry_points={"parsl.executors": {"DupExecutor": "x:DupExecutor"}})
    assert main(["plugins"]) == 1
    [conflict] = [line for line in capsys.readouterr().out.splitlines()
                  if line.startswith("CONFLICT:")]
    assert "DupExecutor" in conflict
    assert "parsl-fake-a" in conflict
    assert "parsl-fake-b" in conflict


def test_parsl_plugins_kind_option_filters_by_kind(capsys) -> None:
    assert main(["plugins", "--kind", "launcher"]) == 0
    kinds = {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    assert kinds == {"launcher"}


def test_parsl_version_prints_the_version() -> None:
    result = _parsl("--version")
    assert result.returncode == 0
    assert VERSION in result.stdout


def test_parsl_help_describes_the_plugins_command(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "plugins" in capsys.readouterr().out

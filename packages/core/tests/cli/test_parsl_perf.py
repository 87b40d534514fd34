"""parsl-perf takes Parsl's options and prints Parsl's lines (plus our summary)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import List

import pytest

from parsl.benchmark import perf

THREADS_CONFIG = (
    "from parsl.config import Config\n"
    "from parsl.executors.threads import ThreadPoolExecutor\n"
    "{kind}\n")


def _write_config(tmp_path, kind: str) -> str:
    run_dir = str(tmp_path / "ri")
    if kind == "config":
        body = (f"config = Config(executors=[ThreadPoolExecutor(max_threads=2)], "
                f"run_dir={run_dir!r})")
    else:
        body = (f"def fresh_config():\n    return Config(executors=[ThreadPoolExecutor("
                f"max_threads=2)], run_dir={run_dir!r})")
    path = tmp_path / f"{kind}.py"
    path.write_text(THREADS_CONFIG.format(kind=body))
    return str(path)


def _perf(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "parsl.benchmark.perf", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def _rates(stdout: str) -> List[float]:
    return [float(m) for m in re.findall(r"^Tasks per second: ([0-9.]+)$", stdout, re.M)]


def test_explicit_iteration_sizes_print_one_tasks_per_second_line_each(tmp_path):
    proc = _perf("--config", _write_config(tmp_path, "config"), "--iterate", "20,50,30")
    assert proc.returncode == 0, proc.stderr
    assert re.findall(r"^Will run (\d+) tasks$", proc.stdout, re.M) == ["20", "50", "30"]
    assert len(_rates(proc.stdout)) == 3
    assert all(rate > 0 for rate in _rates(proc.stdout))
    assert "==== Iteration 3 ====" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-3] == "The end"


def test_config_file_may_define_fresh_config_instead_of_config(tmp_path):
    proc = _perf("--config", _write_config(tmp_path, "fresh"), "--iterate", "10")
    assert proc.returncode == 0, proc.stderr
    assert len(_rates(proc.stdout)) == 1


def test_estimate_mode_stops_once_an_iteration_reaches_three_quarters_of_time(tmp_path):
    proc = _perf("--config", _write_config(tmp_path, "config"), "--time", "0.3")
    assert proc.returncode == 0, proc.stderr
    runtimes = [float(m) for m in re.findall(r"^Runtime: actual ([0-9.]+)s vs target 0.3s$",
                                             proc.stdout, re.M)]
    assert len(runtimes) >= 2
    assert runtimes[-1] >= 0.75 * 0.3
    assert all(t < 0.75 * 0.3 for t in runtimes[1:-1])


def test_exponential_mode_doubles_the_batch(tmp_path):
    proc = _perf("--config", _write_config(tmp_path, "config"), "--time", "0.05",
                 "--iterate", "exponential")
    assert proc.returncode == 0, proc.stderr
    sizes = [int(m) for m in re.findall(r"^Will run (\d+) tasks$", proc.stdout, re.M)]
    assert sizes[:2] == [10, 20]
    assert all(b == 2 * a for a, b in zip(sizes, sizes[1:]))


def test_version_names_parsl_version():
    import parsl

    proc = _perf("--version", timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"parsl-perf from Parsl {parsl.__version__}"


def test_json_summary_is_the_last_line_and_covers_repeats(tmp_path):
    proc = _perf("--config", _write_config(tmp_path, "config"), "--iterate", "40",
                 "--repeat", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["tasks_per_batch"] == 40
    assert summary["batches"] == 3
    assert len(_rates(proc.stdout)) == 3
    assert summary["end_to_end_rate_median"] > 0


def test_config_file_without_config_is_refused_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    proc = _perf("--config", str(bad), timeout=60)
    assert proc.returncode != 0
    assert "must define a parsl Config named 'config' or a function 'fresh_config()'" \
        in proc.stderr


def test_bad_iterate_value_is_refused_naming_the_accepted_forms(tmp_path):
    proc = _perf("--config", _write_config(tmp_path, "config"), "--iterate", "often",
                 timeout=60)
    assert proc.returncode == 2
    assert "invalid iteration mode 'often'" in proc.stderr
    assert "estimate or exponential" in proc.stderr


def test_resources_accept_python_and_json_dict_literals():
    assert perf.resources_spec("{'cores': 1, 'memory': 0}") == {"cores": 1, "memory": 0}
    assert perf.resources_spec('{"cores": 2}') == {"cores": 2}


def test_resources_that_are_not_a_dict_are_refused():
    with pytest.raises(Exception, match="--resources must be a dict, got list"):
        perf.resources_spec("[1, 2]")


def test_argsize_and_resources_reach_every_app_call(monkeypatch):
    calls = []
    monkeypatch.setattr(perf, "app", lambda payload, **kw: calls.append((payload, kw)))
    perf._make_caller({"cores": 1}, "x" * 5)()
    perf._make_caller({}, "")()
    assert calls == [("xxxxx", {"parsl_resource_specification": {"cores": 1}}), ("", {})]

"""parsl-perf runs a config and prints submission and end-to-end rates."""
from __future__ import annotations

import json
import subprocess
import sys


def test_parsl_perf_prints_rates_for_a_python_config(tmp_path):
    config = tmp_path / "cfg.py"
    config.write_text(
        "from parsl.config import Config\n"
        "from parsl.executors.threads import ThreadPoolExecutor\n"
        "config = Config(executors=[ThreadPoolExecutor(max_threads=2)],\n"
        f"                run_dir={str(tmp_path / 'ri')!r})\n")
    proc = subprocess.run([sys.executable, "-m", "parsl.benchmark.perf", "--config", str(config),
                           "--time", "0.2", "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["tasks_per_batch"] >= 100
    assert summary["end_to_end_rate_median"] > 0
    assert summary["submit_rate_median"] >= summary["end_to_end_rate_median"] * 0.5


def test_parsl_perf_rejects_config_file_without_config(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    proc = subprocess.run([sys.executable, "-m", "parsl.benchmark.perf", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "must define a parsl Config named 'config'" in proc.stderr

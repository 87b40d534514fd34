"""HTEX throughput of this project against real Parsl, measured back to back.

Runs ``parsl-perf --config CONFIG --time T`` with this project's parsl-perf and with real
Parsl's, alternating (ours first in even repeats, Parsl's first in odd ones) so both see
the same machine load, and prints each pair, the medians and the median of the per-pair
ratios. The rate of a run is the last one parsl-perf prints (the batch that took at least
``--time`` seconds). The CPU per task is the user+system time of parsl-perf and every
process it waited for (interchange, managers, workers), over all of its batches.

The default config (``benchmarks/configs/htex_local2.py``) is HTEX with defaults and two
workers on LocalProvider, which both implementations read unchanged.

    python packages/htex/benchmarks/htex_vs_parsl.py \\
        --parsl-perf /work/venv-realparsl/bin/parsl-perf [--time 10] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(HERE, "..", "..", "..", "benchmarks", "configs", "htex_local2.py")
#: Parsl prints ``Tasks per second: N`` per batch; this project also ``end to end N tasks/s``.
_RATE_LINES = (re.compile(r"Tasks per second:\s*([0-9.]+)"),
               re.compile(r"end to end ([0-9.]+) tasks/s"))
_TASKS = re.compile(r"(?:batch of|Will run) ([0-9]+) tasks")


def run_perf(perf: str, config: str, seconds: float, timeout: float) -> Tuple[float, float]:
    """Run one parsl-perf; return (tasks/s of its last batch, CPU microseconds per task)."""
    env = dict(os.environ)
    # Real Parsl starts the interchange as ``interchange.py`` from its venv's bin folder.
    env["PATH"] = os.path.dirname(perf) + os.pathsep + env.get("PATH", "")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="htex-vs-parsl-") as cwd:
        proc = subprocess.run([perf, "--config", config, "--time", str(seconds)],
                              check=False, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"{perf} failed with code {proc.returncode}:\n{output[-3000:]}")
    rate: Optional[float] = None
    for pattern in _RATE_LINES:
        found = pattern.findall(output)
        if found:
            rate = float(found[-1])
            break
    if rate is None:
        raise SystemExit(f"no rate in the output of {perf}:\n{output[-3000:]}")
    tasks = sum(int(n) for n in _TASKS.findall(proc.stdout)) or 1
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return rate, cpu / tasks * 1e6


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parsl-perf", required=True, help="real Parsl's parsl-perf")
    parser.add_argument("--ours", default=os.path.join(os.path.dirname(sys.executable),
                                                       "parsl-perf"),
                        help="this project's parsl-perf (default: next to this python)")
    parser.add_argument("--config", default=os.path.normpath(DEFAULT_CONFIG))
    parser.add_argument("--time", type=float, default=10.0, help="parsl-perf --time")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    timeout = 20 * args.time + 120
    ours: List[float] = []
    theirs: List[float] = []
    ratios: List[float] = []
    for i in range(args.repeats):
        order = [("ours", args.ours), ("parsl", args.parsl_perf)]
        if i % 2:
            order.reverse()
        rates = {}
        for name, perf in order:
            started = time.monotonic()
            rate, cpu_us = run_perf(perf, args.config, args.time, timeout)
            rates[name] = rate
            print(f"repeat {i + 1} {name:5s}: {rate:9.0f} tasks/s, {cpu_us:6.0f} us CPU per "
                  f"task ({time.monotonic() - started:.0f} s)", flush=True)
        ours.append(rates["ours"])
        theirs.append(rates["parsl"])
        ratios.append(rates["ours"] / rates["parsl"])
        print(f"repeat {i + 1} ratio: {ratios[-1]:.1f}x", flush=True)
    print(f"median ours {statistics.median(ours):.0f} tasks/s, Parsl "
          f"{statistics.median(theirs):.0f} tasks/s, median ratio "
          f"{statistics.median(ratios):.1f}x over {args.repeats} pairs (--time {args.time})")


if __name__ == "__main__":
    main()

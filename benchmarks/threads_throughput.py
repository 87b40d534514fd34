"""Thread executor throughput: this project against real Parsl, and per-task cost vs batch size.

Two measurements, both through ``parsl-perf`` with ``benchmarks/configs/threads2.py``
(``ThreadPoolExecutor(max_threads=2)``, default logging):

* ``vs-parsl``: 10 s runs (``--time 10``) of this project's parsl-perf (this interpreter)
  and of real Parsl's (``--parsl-python``, a venv with Parsl 2026.10 installed),
  alternated ``--runs`` times; prints each run's final ``Tasks per second`` line, the
  medians and their ratio (target: at least 50).
* ``scaling``: this project's parsl-perf with ``--iterate 10000,300000``, ``--runs``
  times; prints the median rate of each size and the ratio 300,000 / 10,000 (target: at
  least 0.8, i.e. the per-task cost does not grow with the number of live tasks).

    python benchmarks/threads_throughput.py vs-parsl --runs 3
    python benchmarks/threads_throughput.py scaling --runs 3

Every run happens in a fresh temporary directory, so run folders do not accumulate.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from typing import List

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "configs", "threads2.py")
RATE = re.compile(r"^Tasks per second: ([0-9.]+)$", re.M)


def perf_rates(python: str, *args: str) -> List[float]:
    """Run ``python -m parsl.benchmark.perf --config threads2.py *args``; its rate lines."""
    with tempfile.TemporaryDirectory(prefix="threads-throughput-") as cwd:
        proc = subprocess.run([python, "-m", "parsl.benchmark.perf", "--config", CONFIG,
                               *args], cwd=cwd, capture_output=True, text=True,
                              timeout=900, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{python} parsl-perf failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return [float(rate) for rate in RATE.findall(proc.stdout)]


def vs_parsl(runs: int, seconds: float, parsl_python: str) -> None:
    ours: List[float] = []
    theirs: List[float] = []
    for run in range(runs):
        ours.append(perf_rates(sys.executable, "--time", str(seconds))[-1])
        theirs.append(perf_rates(parsl_python, "--time", str(seconds))[-1])
        print(f"run {run + 1}: this project {ours[-1]:,.0f} tasks/s, "
              f"Parsl {theirs[-1]:,.0f} tasks/s", flush=True)
    mine, parsl_rate = statistics.median(ours), statistics.median(theirs)
    print(f"median: this project {mine:,.0f} tasks/s, Parsl {parsl_rate:,.0f} tasks/s, "
          f"ratio {mine / parsl_rate:.1f}x (target >= 50x)")


def scaling(runs: int, sizes: str) -> None:
    per_size: List[List[float]] = []
    for run in range(runs):
        rates = perf_rates(sys.executable, "--iterate", sizes)
        print(f"run {run + 1}: " + ", ".join(f"{rate:,.0f}" for rate in rates) + " tasks/s",
              flush=True)
        per_size.append(rates)
    medians = [statistics.median(column) for column in zip(*per_size)]
    labels = sizes.split(",")
    print("median: " + ", ".join(f"{label} tasks {rate:,.0f}/s"
                                 for label, rate in zip(labels, medians)))
    print(f"ratio {labels[-1]} / {labels[0]}: {medians[-1] / medians[0]:.2f} (target >= 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("vs-parsl", "scaling"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time", type=float, default=10.0,
                        help="parsl-perf --time of each vs-parsl run")
    parser.add_argument("--sizes", default="10000,300000",
                        help="parsl-perf --iterate sizes of each scaling run")
    parser.add_argument("--parsl-python", default="/work/venv-realparsl/bin/python",
                        help="interpreter of a venv where real Parsl is installed")
    args = parser.parse_args()
    if args.what == "vs-parsl":
        vs_parsl(args.runs, args.time, args.parsl_python)
    else:
        scaling(args.runs, args.sizes)


if __name__ == "__main__":
    main()

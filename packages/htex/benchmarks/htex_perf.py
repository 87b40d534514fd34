"""Benchmark HighThroughputExecutor through the DFK on LocalProvider.

For each ``--prefetch`` value it starts one executor and prints the median over ``--runs``
of: the end-to-end rate of no-op tasks (submission to last result), the submission rate,
the CPU time each process spent per task (the submitting process, the interchange, the
manager and the workers), the latency of one task in a chain of dependent apps, and the
rate of tasks taking a 1 MB argument. Figures are for comparison across commits on the
same machine; nothing is asserted. On a shared machine, compare runs made close together.

    python packages/htex/benchmarks/htex_perf.py [--tasks 20000] [--runs 5]
        [--workers 2] [--prefetch 0,10] [--encrypted on|off]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any, Callable, Dict, List

import psutil

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider


@parsl.python_app
def noop(*_: Any) -> None:
    return None


@parsl.python_app
def size_of(blob: bytes) -> int:
    return len(blob)


def _role(proc: psutil.Process) -> str:
    cmdline = " ".join(proc.cmdline())
    if "parsl_htex.interchange" in cmdline:
        return "interchange"
    if "parsl_htex.worker" in cmdline:
        return "workers"
    if "process_worker_pool" in cmdline and "python" in cmdline:
        return "manager"
    return "other"


def _cpu_by_role() -> Dict[str, float]:
    """CPU seconds (user + system, all threads) used so far by each HTEX process role."""
    me = psutil.Process()
    totals: Dict[str, float] = {"submitter": sum(me.cpu_times()[:2])}
    for child in me.children(recursive=True):
        try:
            role = _role(child)
            totals[role] = totals.get(role, 0.0) + sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    totals.pop("other", None)
    return totals


def _median_of(runs: int, measure: Callable[[], Dict[str, float]]) -> Dict[str, float]:
    samples: Dict[str, List[float]] = {}
    for _ in range(runs):
        for key, value in measure().items():
            samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


def _noop_batch(tasks: int) -> Dict[str, float]:
    before = _cpu_by_role()
    start = time.perf_counter()
    futures = [noop() for _ in range(tasks)]
    submitted = time.perf_counter()
    for f in futures:
        f.result()
    done = time.perf_counter()
    after = _cpu_by_role()
    figures = {"end_to_end": tasks / (done - start), "submit": tasks / (submitted - start)}
    for role, cpu in after.items():
        figures[f"cpu_us_{role}"] = (cpu - before.get(role, 0.0)) / tasks * 1e6
    return figures


def _chain_latency(chains: int) -> Dict[str, float]:
    latencies = []
    for _ in range(chains):
        t = time.perf_counter()
        noop(noop()).result()
        latencies.append((time.perf_counter() - t) / 2)
    return {"chain_ms": statistics.median(latencies) * 1e3}


def _big_arguments(count: int) -> Dict[str, float]:
    blob = b"x" * 2**20
    start = time.perf_counter()
    futures = [size_of(blob) for _ in range(count)]
    if not all(f.result() == 2**20 for f in futures):
        raise RuntimeError("a 1 MB-argument task returned the wrong size")
    return {"big_per_s": count / (time.perf_counter() - start)}


def bench(prefetch: int, args: argparse.Namespace) -> None:
    config = Config(executors=[HighThroughputExecutor(
        label="htex", address="127.0.0.1", max_workers_per_node=args.workers,
        prefetch_capacity=prefetch, encrypted=args.encrypted == "on",
        provider=LocalProvider(init_blocks=1, max_blocks=1))],
        run_dir=tempfile.mkdtemp(prefix="htex-perf-"))
    with parsl.load(config):
        noop().result()
        _noop_batch(min(args.tasks, 2000))
        r = _median_of(args.runs, lambda: _noop_batch(args.tasks))
        cpu = ", ".join(f"{role} {r[f'cpu_us_{role}']:.0f}"
                        for role in ("submitter", "interchange", "manager", "workers")
                        if f"cpu_us_{role}" in r)
        total = sum(v for k, v in r.items() if k.startswith("cpu_us_"))
        print(f"prefetch_capacity={prefetch}, encrypted={args.encrypted}, {args.workers} "
              f"workers, median of {args.runs} "
              f"runs of {args.tasks} no-op tasks:")
        print(f"  end to end {r['end_to_end']:.0f} tasks/s, submission {r['submit']:.0f} "
              "tasks/s")
        print(f"  CPU per task (us): {cpu}; total {total:.0f}")
        chain = _median_of(args.runs, lambda: _chain_latency(args.chain))
        print(f"  chain latency per dependent task: {chain['chain_ms']:.3f} ms (median of "
              f"{args.runs} medians over {args.chain} chains of 2)")
        big = _median_of(args.runs, lambda: _big_arguments(args.big))
        print(f"  1 MB-argument tasks: {big['big_per_s']:.0f} tasks/s "
              f"({big['big_per_s']:.0f} MB/s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; medians shown")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefetch", default="0,10",
                        help="comma-separated prefetch_capacity values to measure")
    parser.add_argument("--encrypted", choices=("on", "off"), default="on",
                        help="encrypted= of the executor (on, its default: CurveZMQ "
                             "everywhere; off, Parsl's default: plain TCP to managers)")
    parser.add_argument("--chain", type=int, default=300)
    parser.add_argument("--big", type=int, default=300, help="number of 1 MB-argument tasks")
    args = parser.parse_args()
    for prefetch in (int(p) for p in args.prefetch.split(",")):
        bench(prefetch, args)


if __name__ == "__main__":
    main()

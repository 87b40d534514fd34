"""Peak memory of long runs: with garbage_collect=True it must not grow with the task count.

Each size runs in a fresh interpreter on the thread executor: no-op apps are submitted in
windows of ``--window`` tasks, and the script drops its futures once a window has
completed, as a long-running workflow does. It prints the peak RSS (ru_maxrss) after
100,000 and after 1,000,000 tasks, how many task records the DFK still holds, and the
ratio of the two peaks (target: below 2).

    python benchmarks/gc_memory.py
    python benchmarks/gc_memory.py --sizes 100000 1000000 --cache
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional


def measure(tasks: int, window: int, cache: bool) -> Dict[str, int]:
    """Run ``tasks`` no-op tasks in this process; return peak RSS and leftover records."""
    import parsl
    from parsl.config import Config
    from parsl.executors.threads import ThreadPoolExecutor

    def noop(i: int) -> int:
        return i

    app = parsl.python_app(noop, cache=cache)
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], garbage_collect=True)
    with parsl.load(config) as dfk:
        submitted = 0
        while submitted < tasks:
            count = min(window, tasks - submitted)
            futures = [app(submitted + i) for i in range(count)]
            for fut in futures:
                fut.result()
            del futures
            submitted += count
        records_left = len(dfk.tasks)
    return {"tasks": tasks, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "records_left": records_left}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[100_000, 1_000_000],
                        metavar=("SMALL", "LARGE"))
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--cache", action="store_true",
                        help="cache=True apps with distinct arguments (the memo table grows)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.window, args.cache)))
        return 0
    peaks = []
    for size in args.sizes:
        command = [sys.executable, os.path.abspath(__file__), "--one", str(size),
                   "--window", str(args.window)] + (["--cache"] if args.cache else [])
        with tempfile.TemporaryDirectory() as workdir:
            out = subprocess.run(command, cwd=workdir, check=True, capture_output=True,
                                 text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        peaks.append(result["peak_rss_kib"])
        print(f"{size:>9} tasks: peak RSS {result['peak_rss_kib'] / 1024:7.1f} MiB, "
              f"task records left {result['records_left']}", flush=True)
    print(f"peak RSS ratio {args.sizes[1]}/{args.sizes[0]}: {peaks[1] / peaks[0]:.2f} "
          "(target < 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

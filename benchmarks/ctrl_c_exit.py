"""Time from Ctrl-C to exit of a script with many HTEX tasks in flight.

Runs ``packages/htex/tests/ctrl_c_workflow.py`` (one local block, two workers, N short
tasks) in a session of its own, waits until tasks are running, sends SIGINT to the whole
process group as a terminal does, and prints how long the script took to exit and how
many futures it left unfinished (should be 0). Target: a few seconds for 10,000 tasks.

    python benchmarks/ctrl_c_exit.py --tasks 10000 --repeat 3
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

WORKFLOW = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "packages",
                        "htex", "tests", "ctrl_c_workflow.py")


def one_run(tasks: int) -> float:
    run_dir = tempfile.mkdtemp(prefix="parsl-ctrlc-")
    proc = subprocess.Popen([sys.executable, WORKFLOW, run_dir, str(tasks)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first.startswith("started"):
        proc.kill()
        raise SystemExit(f"the workflow did not start: {first!r}")
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit("the workflow did not exit within 600 s of SIGINT") from None
    elapsed = time.monotonic() - start
    print(f"exited {elapsed:.2f} s after SIGINT; {out.strip().splitlines()[-1]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times = [one_run(args.tasks) for _ in range(args.repeat)]
    print(f"median: {statistics.median(times):.2f} s for {args.tasks} tasks in flight")


if __name__ == "__main__":
    main()

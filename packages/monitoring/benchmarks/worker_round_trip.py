"""How long a no-op task takes from its task record to its result through one HTEX worker
process, with and without the monitoring observer: the worker's share of the critical
path (with prefetch 0 a worker's next task leaves the interchange only after its result
arrives there).

This process plays the manager: it starts ``python -m parsl_htex.worker`` on two pipes,
writes one task record, reads the result record (skipping monitoring records), waits
``--gap-us`` (the result's way to the interchange and the next task's way back, during
which the worker may finish its own bookkeeping), and repeats. It prints the median
task-to-result time of each mode; modes and runs alternate, so a shared machine's load
hits them alike.

    python packages/monitoring/benchmarks/worker_round_trip.py --tasks 5000 --repeat 3
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import BinaryIO, Dict, List


def noop() -> None:
    return None


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the worker closed its result pipe")
        data += chunk
    return data


def measure(mode: str, tasks: int, gap: float) -> float:
    """Median microseconds from writing a task record to reading its result."""
    from parsl_htex import _serial
    from parsl_htex._protocol import MONITORING, RESULT_HEADER, task_header

    task_r, task_w = os.pipe()
    result_r, result_w = os.pipe()
    command = [sys.executable, "-m", "parsl_htex.worker", "--task-fd", str(task_r),
               "--result-fd", str(result_w), "--rank", "0", "--manager-pid", str(os.getpid()),
               "--logfile", os.path.join(tempfile.mkdtemp(prefix="round-trip-"), "worker.log")]
    if mode != "off":
        config = {"radio": {"kind": "htex"}, "flush_period": 0.5,
                  "resource_interval": 30 if mode == "res" else None}
        token = json.dumps({"factory": "parsl_monitoring.remote:task_observer",
                            "config": config})
        command += ["--task-observer", base64.urlsafe_b64encode(token.encode()).decode()]
    worker = subprocess.Popen(command, pass_fds=(task_r, result_w))
    os.close(task_r)
    os.close(result_w)
    payload = _serial.pack_apply_message(noop, (), {})
    results = os.fdopen(result_r, "rb", buffering=0)
    times: List[float] = []
    try:
        for i in range(200 + tasks):  # the first 200 warm up
            started = time.perf_counter()
            os.write(task_w, task_header(i, i, len(payload)) + payload)
            while True:
                header = RESULT_HEADER.unpack(_read_exactly(results, RESULT_HEADER.size))
                _read_exactly(results, header[3])
                if header[2] != MONITORING:
                    break
            if i >= 200:
                times.append(time.perf_counter() - started)
            time.sleep(gap)
    finally:
        os.close(task_w)  # EOF: the worker sends its last monitoring batch and exits
        while results.read(1 << 16):
            pass
        results.close()
        worker.wait(60)
    return statistics.median(times) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="off,nores,res")
    parser.add_argument("--gap-us", type=float, default=100.0)
    args = parser.parse_args()
    medians: Dict[str, List[float]] = {}
    for _ in range(args.repeat):
        for mode in args.modes.split(","):
            value = measure(mode, args.tasks, args.gap_us * 1e-6)
            medians.setdefault(mode, []).append(value)
            print(f"{mode:6} task to result: median {value:7.1f} us", flush=True)
    print("\nmedians of the runs:")
    for mode, values in medians.items():
        print(f"  {mode:6} {statistics.median(values):7.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())

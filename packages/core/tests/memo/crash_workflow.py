"""A workflow the crash tests run in a subprocess and kill.

Usage: crash_workflow.py RUN_DIR MARKER_DIR N_TASKS [restart]

Each ``work`` task creates ``MARKER_DIR/<i>`` when it really runs; the main thread prints
``done <i>`` once future i has completed (in order) and ``total <sum>`` at the end. With
``restart`` the run loads every checkpoint under RUN_DIR first.
"""
from __future__ import annotations

import os
import sys
import time

import parsl
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor
from parsl.utils import get_all_checkpoints


@parsl.python_app(cache=True, ignore_for_cache=["marker_dir"])
def work(i: int, marker_dir: str = "") -> int:
    time.sleep(0.03)
    with open(os.path.join(marker_dir, str(i)), "w") as f:
        f.write("ran\n")
    return i


@parsl.python_app(cache=True)
def total(*values: int) -> int:
    return sum(values)


def main() -> None:
    run_dir, marker_dir, n_tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    restart = len(sys.argv) > 4 and sys.argv[4] == "restart"
    os.makedirs(marker_dir, exist_ok=True)
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir,
                    checkpoint_mode="task_exit",
                    checkpoint_files=get_all_checkpoints(run_dir) if restart else None)
    with parsl.load(config):
        print("started", flush=True)
        futures = [work(i, marker_dir=marker_dir) for i in range(n_tasks)]
        for i, fut in enumerate(futures):
            fut.result()
            print(f"done {i}", flush=True)
        print(f"total {total(*futures).result()}", flush=True)


if __name__ == "__main__":
    main()

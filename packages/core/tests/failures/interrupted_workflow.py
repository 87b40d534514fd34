"""A workflow the Ctrl-C tests interrupt with SIGINT.

Usage: interrupted_workflow.py RUN_DIR MODE WAIT [with|plain]

Submits many short cached tasks on two threads, prints ``done <i>`` as futures complete
(in order), and blocks in ``fut.result()`` (WAIT=result) or in
``dfk.wait_for_current_tasks()`` (WAIT=wait, after printing ``waiting``). MODE is the
checkpoint mode. ``with`` runs inside ``with parsl.load(...)``, ``plain`` calls
``parsl.load`` and relies on Parsl's exit handling.
"""
from __future__ import annotations

import sys
import time

import parsl
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor


@parsl.python_app(cache=True)
def slow(i: int) -> int:
    time.sleep(0.05)
    return i


def work(dfk: parsl.DataFlowKernel, wait: str) -> None:
    futures = [slow(i) for i in range(2000)]
    print("started", flush=True)
    if wait == "wait":
        futures[3].result()
        print("waiting", flush=True)
        dfk.wait_for_current_tasks()
    for i, fut in enumerate(futures):
        fut.result()
        print(f"done {i}", flush=True)


def main() -> None:
    run_dir, mode, wait, style = sys.argv[1:5]
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir,
                    checkpoint_mode=mode)  # type: ignore[arg-type]
    if style == "with":
        with parsl.load(config) as dfk:
            work(dfk, wait)
    else:
        work(parsl.load(config), wait)


if __name__ == "__main__":
    main()

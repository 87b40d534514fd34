"""Write ``runinfo/000/checkpoint/tasks.pkl`` with real Parsl (not this project).

Run with an interpreter where Parsl 2026.10 is installed, from this folder:

    /work/venv-realparsl/bin/python make_tasks_pkl.py

It runs the calls listed in CALLS with task_exit checkpointing and keeps the checkpoint
file as ``tasks.pkl`` next to this script.
"""
import os
import shutil
import tempfile

from realparsl_apps import greet, scale

import parsl
from parsl.config import Config
from parsl.dataflow.memoization import BasicMemoizer
from parsl.executors.threads import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    run_dir = tempfile.mkdtemp(prefix="realparsl-")
    config = Config(executors=[ThreadPoolExecutor(max_threads=1)], run_dir=run_dir,
                    memoizer=BasicMemoizer(checkpoint_mode="task_exit"))
    with parsl.load(config) as dfk:
        print(scale(3).result())
        print(scale(4, factor=5, tags={"b": [1, 2], "a": "x"}).result())
        print(scale(2.5, tags=("t", None)).result())
        print(greet("world").result())
        checkpoint = os.path.join(dfk.run_dir, "checkpoint", "tasks.pkl")
    shutil.copy(checkpoint, os.path.join(HERE, "tasks.pkl"))
    shutil.rmtree(run_dir)


if __name__ == "__main__":
    main()

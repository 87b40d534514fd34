"""A small workflow on the local default: a fan-out of Python apps, a bash app and a join.

Run it with ``python examples/hello_workflow.py``. With parsl-htex installed it runs on the
HighThroughputExecutor's local default (workers in separate processes on this machine);
with only parsl-core it runs on threads.
"""
from __future__ import annotations

import os
import tempfile

import parsl
from parsl import File, bash_app, join_app, python_app
from parsl.config import Config


def local_default_config(run_dir: str) -> Config:
    try:
        from parsl.executors import HighThroughputExecutor
    except ImportError:
        print("parsl-htex is not installed: running on threads")
        return Config(run_dir=run_dir)
    from parsl.providers import LocalProvider

    return Config(executors=[HighThroughputExecutor(
        label="htex_local", max_workers_per_node=2,
        provider=LocalProvider(init_blocks=1, max_blocks=1))], run_dir=run_dir)


@python_app
def square(x: int) -> int:
    return x * x


@python_app
def total(inputs: list = ()) -> int:
    return sum(inputs)


@bash_app
def write_report(value: int, outputs: list = ()) -> str:
    return f"echo 'sum of squares: {value}' > {outputs[0].filepath}"


@join_app
def sum_of_squares(n: int):
    return total(inputs=[square(i) for i in range(n)])


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="parsl-hello-")
    config = local_default_config(os.path.join(workdir, "runinfo"))
    with parsl.load(config) as dfk:
        print("executors:", ", ".join(label for label in dfk.executors
                                      if not label.startswith("_")))
        result = sum_of_squares(10)
        report = write_report(result, outputs=[File(os.path.join(workdir, "report.txt"))])
        report.result()
        print("sum of squares 0..9 =", result.result())
        with open(report.outputs[0].result().filepath) as f:
            print("report:", f.read().strip())
        print("run directory:", dfk.run_dir)


if __name__ == "__main__":
    main()

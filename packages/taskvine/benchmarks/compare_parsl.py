"""parsl-perf with TaskVineExecutor (regular, serverless) and WorkQueueExecutor: ours vs Parsl.

Both implementations drive the same cctools build with the same config file (the import
paths are the same), one after the other on this machine: a factory-started 2-core
worker for TaskVine (a LocalProvider block for Work Queue), every task asking for one
core. For each run the script prints the end-to-end rate of the last batch, how long the
program took to exit after its last batch, and any worker, factory or manager process
left behind (which it then kills).

    python packages/taskvine/benchmarks/compare_parsl.py \\
        --ours /work/venv-taskvine/bin/python --parsl /work/venv-realparsl/bin/python

cctools is found as the tests find it: PARSL_CCTOOLS_PREFIX, else
/var/cache/parsl-cctools/7.17.1 (``bash .ci/setup-cctools.sh`` builds it there).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import psutil

TAG = "PARSL_TASKVINE_BENCH_PORT"
CONFIGS = {
    "taskvine-regular": """
from parsl.config import Config
from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig
config = Config(executors=[TaskVineExecutor(
    function_exec_mode="regular",
    manager_config=TaskVineManagerConfig(port={port}, address="127.0.0.1"),
    factory_config=TaskVineFactoryConfig(cores=2))], run_dir={run_dir!r})
""",
    "taskvine-serverless": """
from parsl.config import Config
from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig
config = Config(executors=[TaskVineExecutor(
    function_exec_mode="serverless",
    manager_config=TaskVineManagerConfig(port={port}, address="127.0.0.1",
                                         library_config={{"num_slots": 2, "cores": 2}}),
    factory_config=TaskVineFactoryConfig(cores=2))], run_dir={run_dir!r})
""",
    "workqueue": """
from parsl.config import Config
from parsl.executors import WorkQueueExecutor
from parsl.providers import LocalProvider
config = Config(executors=[WorkQueueExecutor(
    port={port}, address="127.0.0.1",
    provider=LocalProvider(init_blocks=1, max_blocks=1))], run_dir={run_dir!r})
""",
    "workqueue-coprocess": """
from parsl.config import Config
from parsl.executors import WorkQueueExecutor
from parsl.providers import LocalProvider
config = Config(executors=[WorkQueueExecutor(
    port={port}, address="127.0.0.1", coprocess=True, worker_options="--cores=2",
    provider=LocalProvider(init_blocks=1, max_blocks=1))], run_dir={run_dir!r})
""",
}
RESOURCES = {"taskvine-regular": {"cores": 1}, "taskvine-serverless": {"cores": 1},
             "workqueue": {"cores": 1, "memory": 100, "disk": 100},
             "workqueue-coprocess": {"cores": 1, "memory": 100, "disk": 100}}
#: Parsl's parsl-perf prints "Tasks per second: R"; ours "batch of N tasks: S s, ..."
#: (its rates are rounded to whole tasks/s, so the rate is computed from N and S).
_RATE = re.compile(r"Tasks per second: ([0-9.]+)|batch of (\d+) tasks: ([0-9.]+) s")


def _rates(text: str) -> List[float]:
    return [float(m.group(1)) if m.group(1) else int(m.group(2)) / float(m.group(3))
            for m in _RATE.finditer(text)]


def cctools_env() -> Dict[str, str]:
    prefix = os.environ.get("PARSL_CCTOOLS_PREFIX", "/var/cache/parsl-cctools/7.17.1")
    sites = glob.glob(os.path.join(prefix, "lib", "python3*", "site-packages"))
    if not sites:
        raise SystemExit(f"no cctools build in {prefix}: run `bash .ci/setup-cctools.sh`")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([sites[0], env.get("PYTHONPATH", "")]).rstrip(":")
    env["PATH"] = os.pathsep.join([os.path.join(prefix, "bin"), env["PATH"]])
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leftovers(port: int, skip: int) -> List[psutil.Process]:
    found = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if p.pid == skip or p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if p.environ().get(TAG) == str(port):
                found.append(p)
        except psutil.Error:
            continue
    return found


def run(python: str, mode: str, args: argparse.Namespace, ours: bool
        ) -> Tuple[Optional[float], str]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tv-bench-") as tmp:
        config = os.path.join(tmp, "config.py")
        with open(config, "w") as f:
            f.write(CONFIGS[mode].format(port=port, run_dir=os.path.join(tmp, "runinfo")))
        argv = [python, "-m", "parsl.benchmark.perf", "--config", config,
                "--resources", json.dumps(RESOURCES[mode])]
        argv += ["--time", str(args.time)] if ours else ["--iterate", args.parsl_sizes]
        env = cctools_env()
        env[TAG] = str(port)
        # As with an activated venv: workers' python3 is the implementation's Python.
        env["PATH"] = os.pathsep.join([os.path.dirname(python), env["PATH"]])
        log_path = os.path.join(tmp, "output.txt")
        started = time.monotonic()
        with open(log_path, "w") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    cwd=tmp, start_new_session=True)
        rate: Optional[float] = None
        last_rate_at = started
        notes = []
        buffer = ""
        while proc.poll() is None and time.monotonic() - started < args.timeout:
            with open(log_path) as f:
                text = f.read()
            rates = _rates(text)
            if rates and len(rates) != len(_rates(buffer)):
                last_rate_at = time.monotonic()
            buffer = text
            time.sleep(0.2)
        with open(log_path) as f:
            buffer = f.read()
        rates = _rates(buffer)
        rate = rates[-1] if rates else None
        if proc.poll() is None:
            notes.append(f"still running after {args.timeout:.0f} s (hung), killed")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            notes.append(f"exit code {proc.returncode}, exited "
                         f"{time.monotonic() - last_rate_at:.1f} s after its last rate line")
        if "not alive" in buffer:
            notes.append("'Submit Process is not alive' in its output")
        left = leftovers(port, os.getpid())
        if left:
            notes.append(f"left {len(left)} processes behind: "
                         + ", ".join(sorted({p.name() for p in left})))
            for p in left:
                try:
                    p.kill()
                except psutil.Error:
                    pass
        if args.verbose:
            print(buffer[-3000:])
        return rate, "; ".join(notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=sys.executable, help="python with parsl-taskvine")
    parser.add_argument("--parsl", default="/work/venv-realparsl/bin/python",
                        help="python with Parsl 2026.10")
    parser.add_argument("--modes", default=",".join(CONFIGS))
    parser.add_argument("--time", type=float, default=10,
                        help="ours: target seconds of the measured batch")
    parser.add_argument("--parsl-sizes", default="10,20",
                        help="Parsl: parsl-perf --iterate batch sizes (it is slow)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument("--impls", default="ours,parsl",
                        help="which implementations to run (ours, parsl)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    impls = args.impls.split(",")
    for mode in args.modes.split(","):
        for name, python, ours in (("ours", args.ours, True), ("parsl", args.parsl, False)):
            if name not in impls:
                continue
            rate, notes = run(python, mode, args, ours)
            shown = f"{rate:.1f} tasks/s" if rate is not None else "no rate"
            print(f"{mode:20s} {name:6s} {shown:>16s}   {notes}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

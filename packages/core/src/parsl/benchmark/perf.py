"""parsl-perf: measure task throughput of a configuration.

Runs batches of no-op apps, growing each batch until one takes at least ``--time``
seconds, then prints the submission rate (how fast app calls return) and the end-to-end
rate (tasks completed per second, including submission), like Parsl's tool of the same
name. The config file is a Python file defining ``config`` or a TOML config.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from typing import Any, Dict, List, Optional

import parsl
from parsl.config import Config


def load_config(path: str) -> Config:
    if path.endswith(".toml"):
        return Config.from_toml(path)
    spec = importlib.util.spec_from_file_location("parsl_perf_config", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"parsl-perf: cannot load config file {path!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = getattr(module, "config", None)
    if not isinstance(config, Config):
        raise SystemExit(f"parsl-perf: {path!r} must define a parsl Config named 'config'")
    return config


@parsl.python_app
def noop_app(_: Any = None, parsl_resource_specification: Optional[Dict[str, Any]] = None
             ) -> None:
    return None


def run_batch(n: int, resources: Optional[Dict[str, Any]]) -> Dict[str, float]:
    kwargs = {"parsl_resource_specification": resources} if resources else {}
    start = time.perf_counter()
    futures = [noop_app(**kwargs) for _ in range(n)]
    submitted = time.perf_counter()
    for fut in futures:
        fut.result()
    done = time.perf_counter()
    return {"tasks": n, "submit_rate": n / (submitted - start),
            "end_to_end_rate": n / (done - start), "seconds": done - start}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="parsl-perf", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="Python file defining `config`, or TOML")
    parser.add_argument("--time", type=float, default=60,
                        help="target duration of the measured batch, in seconds")
    parser.add_argument("--resources", default=None,
                        help="JSON parsl_resource_specification for each task")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure this many batches at the final size and report medians")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    resources = json.loads(args.resources) if args.resources else None
    config = load_config(args.config)
    results = []
    with parsl.load(config):
        n = 100
        while True:
            result = run_batch(n, resources)
            if not args.json:
                print(f"batch of {n} tasks: {result['seconds']:.3f} s, submission "
                      f"{result['submit_rate']:.0f} tasks/s, end to end "
                      f"{result['end_to_end_rate']:.0f} tasks/s", flush=True)
            if result["seconds"] >= args.time:
                results.append(result)
                break
            grow = args.time / max(result["seconds"], 1e-3)
            n = int(n * min(max(grow * 1.1, 1.5), 10))
        for _ in range(args.repeat - 1):
            results.append(run_batch(n, resources))
    summary = {
        "tasks_per_batch": n,
        "batches": len(results),
        "submit_rate_median": statistics.median(r["submit_rate"] for r in results),
        "end_to_end_rate_median": statistics.median(r["end_to_end_rate"] for r in results),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"Submission rate: {summary['submit_rate_median']:.0f} tasks/s (median of "
              f"{len(results)})")
        print(f"End-to-end rate: {summary['end_to_end_rate_median']:.0f} tasks/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

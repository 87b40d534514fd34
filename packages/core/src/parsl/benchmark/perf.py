"""parsl-perf: measure the task throughput of a configuration.

Takes Parsl's options and prints Parsl's lines, so scripts that drive Parsl's
``parsl-perf`` and parse its ``Tasks per second: N`` lines keep working:

``--config``   Python file defining ``config`` (a Config) or ``fresh_config()``; a
               ``.toml`` file is read with :meth:`Config.from_toml`.
``--resources`` ``parsl_resource_specification`` of every task, a Python/JSON dict literal.
``--time``     target seconds of an iteration (default 120, as Parsl).
``--argsize``  extra bytes passed to every app invocation.
``--iterate``  ``estimate`` (next size from the last rate, until an iteration takes at
               least 3/4 of ``--time``), ``exponential`` (double until ``--time``), or
               explicit sizes ``1000,10000,100000``.

Our additions: ``--repeat N`` measures N-1 more batches at the final size and prints the
median rates; ``--json`` ends the output with one JSON line of the summary.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Literal, Optional, Union

import parsl
from parsl.config import Config

NAMED_ITERATION_MODES = ("estimate", "exponential")
MIN_ITERATIONS = 2
#: Parsl's names for the two constants above.
VALID_NAMED_ITERATION_MODES = NAMED_ITERATION_MODES
min_iterations = MIN_ITERATIONS
FIRST_BATCH = 10

IterateMode = Union[str, List[int]]


class ConfigFileError(Exception):
    """The ``--config`` file cannot be loaded or defines no configuration."""


def load_config(path: str) -> Config:
    """The Config of ``path``: its ``config`` variable, or what ``fresh_config()`` returns."""
    if path.endswith(".toml"):
        return Config.from_toml(path)
    spec = importlib.util.spec_from_file_location("parsl_perf_config", path)
    if spec is None or spec.loader is None:
        raise ConfigFileError(f"cannot load config file {path!r}: not a Python or TOML file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        raise ConfigFileError(f"config file {path!r} does not exist") from None
    config = getattr(module, "config", None)
    if config is None:
        factory = getattr(module, "fresh_config", None)
        if callable(factory):
            config = factory()
    if not isinstance(config, Config):
        raise ConfigFileError(
            f"{path!r} must define a parsl Config named 'config' or a function "
            f"'fresh_config()' returning one (found {type(config).__name__})")
    return config


@parsl.python_app
def app(extra_payload: Any, parsl_resource_specification: Optional[Dict[str, Any]] = None
        ) -> int:
    return 7


def _make_caller(resources: Dict[str, Any], payload: str) -> Callable[[], Any]:
    """One app call as cheap as possible: no resource specification unless one is asked
    for, since executors without resource support refuse a non-empty one."""
    if resources:
        return lambda: app(payload, parsl_resource_specification=resources)
    return lambda: app(payload)


def run_batch(n: int, call: Callable[[], Any]) -> Dict[str, float]:
    """Run ``n`` tasks, printing Parsl's lines; return the batch's rates."""
    print(f"Will run {n} tasks")
    start = time.time()
    print("Submitting tasks / invoking apps")
    futures = [call() for _ in range(n)]
    submitted = time.time()
    submit_seconds = max(submitted - start, 1e-9)
    print(f"All {n} tasks submitted ... waiting for completion")
    print(f"Submission took {submit_seconds:.3f} seconds = {n / submit_seconds:.3f} "
          "tasks/second")
    for future in futures:
        result = future.result()
        if result != 7:
            raise RuntimeError(f"parsl-perf: a task returned {result!r} instead of 7")
    seconds = max(time.time() - start, 1e-9)
    return {"tasks": n, "seconds": seconds, "submit_rate": n / submit_seconds,
            "end_to_end_rate": n / seconds}


def performance(*, call: Callable[[], Any], target_t: float, iterate_mode: IterateMode,
                repeat: int = 1) -> List[Dict[str, float]]:
    """Run iterations as Parsl's parsl-perf does; return the final size's batches."""
    n = iterate_mode[0] if isinstance(iterate_mode, list) else FIRST_BATCH
    iteration = 1
    while True:
        print(f"==== Iteration {iteration} ====")
        result = run_batch(n, call)
        rate = result["end_to_end_rate"]
        print(f"Runtime: actual {result['seconds']:.3f}s vs target {target_t}s")
        print(f"Tasks per second: {rate:.3f}", flush=True)
        iteration += 1
        if iterate_mode == "estimate":
            again = result["seconds"] < 0.75 * target_t or iteration <= MIN_ITERATIONS
            next_n = max(1, int(target_t * rate))
        elif iterate_mode == "exponential":
            again = result["seconds"] < target_t or iteration <= MIN_ITERATIONS
            next_n = 2 * n
        else:
            assert isinstance(iterate_mode, list)
            again = iteration <= len(iterate_mode)
            next_n = iterate_mode[iteration - 1] if again else n
        if not again:
            break
        n = next_n
    results = [result]
    for _ in range(repeat - 1):
        print(f"==== Iteration {iteration} (repeat) ====")
        again_result = run_batch(n, call)
        print(f"Runtime: actual {again_result['seconds']:.3f}s vs target {target_t}s")
        print(f"Tasks per second: {again_result['end_to_end_rate']:.3f}", flush=True)
        results.append(again_result)
        iteration += 1
    return results


def load_dfk_from_config(filename: str) -> Any:
    """Load the configuration of ``filename`` (see :func:`load_config`); the DFK."""
    return parsl.load(load_config(filename))


def validate_int_list(value: str) -> Union[List[int], Literal[False]]:
    """``"1,2,3"`` as ``[1, 2, 3]``; False when it is not a list of integers."""
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        return False


def iteration_mode(value: str) -> IterateMode:
    """argparse type of ``--iterate``."""
    if value in NAMED_ITERATION_MODES:
        return value
    try:
        sizes = [int(part) for part in value.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"invalid iteration mode {value!r}: expected {' or '.join(NAMED_ITERATION_MODES)}"
            " or comma-separated positive task counts such as 1000,10000")
    return sizes


def resources_spec(value: str) -> Dict[str, Any]:
    """argparse type of ``--resources``: a dict literal (JSON or Python syntax)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise argparse.ArgumentTypeError(
                f"--resources {value!r} is not a dict literal such as "
                "'{\"cores\": 1, \"memory\": 0, \"disk\": 0}'") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(
            f"--resources must be a dict, got {type(parsed).__name__}: {value!r}")
    return parsed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="parsl-perf", description="Measure performance of Parsl configurations",
        epilog="Example: parsl-perf --config benchmarks/configs/threads2.py --time 10")
    parser.add_argument("--config", required=True,
                        help="Python file defining `config` or `fresh_config()`, or TOML")
    parser.add_argument("--resources", metavar="EXPR", type=resources_spec, default={},
                        help="parsl_resource_specification dictionary")
    parser.add_argument("--time", metavar="SECONDS", type=float, default=120,
                        help="target number of seconds for an iteration")
    parser.add_argument("--argsize", metavar="BYTES", type=int, default=0,
                        help="extra bytes to add into app invocation arguments")
    parser.add_argument("--version", action="version",
                        version=f"parsl-perf from Parsl {parsl.__version__}")
    parser.add_argument("--iterate", metavar="MODE", type=iteration_mode, default="estimate",
                        help="iteration mode: estimate, exponential, or a sequence of "
                             "explicit sizes such as 1000,10000")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure this many batches at the final size; print medians")
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON line summarising the final batches")
    args = parser.parse_args(argv)
    if args.time <= 0:
        parser.error(f"--time must be > 0 seconds, got {args.time}")
    if args.argsize < 0:
        parser.error(f"--argsize must be >= 0 bytes, got {args.argsize}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    try:
        config = load_config(args.config)
    except ConfigFileError as e:
        print(f"parsl-perf: {e}", file=sys.stderr)
        return 2
    call = _make_caller(args.resources, "x" * args.argsize)
    with parsl.load(config):
        results = performance(call=call, target_t=args.time, iterate_mode=args.iterate,
                              repeat=args.repeat)
        print("Tests complete - leaving DFK block")
    print("The end")
    summary = {
        "tasks_per_batch": int(results[-1]["tasks"]),
        "batches": len(results),
        "submit_rate_median": statistics.median(r["submit_rate"] for r in results),
        "end_to_end_rate_median": statistics.median(r["end_to_end_rate"] for r in results),
    }
    print(f"Submission rate: {summary['submit_rate_median']:.0f} tasks/s (median of "
          f"{len(results)})")
    print(f"End-to-end rate: {summary['end_to_end_rate_median']:.0f} tasks/s", flush=True)
    if args.json:
        print(json.dumps(summary))
    return 0


def cli_run() -> None:
    """Parsl's name for the command's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())

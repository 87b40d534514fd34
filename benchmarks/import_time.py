"""Print the median wall time of ``import parsl`` in fresh interpreters.

Each run starts a new ``python -c`` process that times only the import statement (so
interpreter start-up is excluded) and also reports whether any heavy optional dependency
was imported on the way, which ``import parsl`` must never do.

    python benchmarks/import_time.py --runs 30
    python benchmarks/import_time.py --statement "from parsl.executors import ThreadPoolExecutor"
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any, Dict, List

HEAVY_MODULES = ("zmq", "boto3", "kubernetes", "globus_sdk", "paramiko", "sqlalchemy")

_PROBE = """
import json, sys, time
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"seconds": elapsed, "heavy": heavy, "modules": len(sys.modules)}}))
"""


def _one_run(statement: str) -> Dict[str, Any]:
    code = _PROBE.format(statement=statement, heavy=HEAVY_MODULES)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="number of fresh interpreters")
    parser.add_argument("--statement", default="import parsl", help="what to time")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = [_one_run(args.statement) for _ in range(args.runs)]
    times_ms = sorted(run["seconds"] * 1000 for run in runs)
    heavy = sorted({name for run in runs for name in run["heavy"]})
    print(f"statement:        {args.statement}")
    print(f"runs:             {args.runs}")
    print(f"median:           {statistics.median(times_ms):.2f} ms")
    print(f"min / max:        {times_ms[0]:.2f} / {times_ms[-1]:.2f} ms")
    print(f"modules loaded:   {runs[-1]['modules']}")
    print(f"heavy imports:    {', '.join(heavy) if heavy else 'none'}")
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())

"""Staging benchmark: a 1 GiB HTTP stage-in on HTEX, and per-task staging overhead.

1. A sparse 1 GiB file in a temporary folder is served by the standard library's
   ``http.server`` (sending with sendfile) on a free loopback port. ``curl`` fetches it
   (the reference rate), then one HTEX task whose input is that URL, staged by
   ``HTTPInTaskStaging``. While it runs, the resident memory of every process involved
   (this submit process, the interchanges, the managers, the workers) is sampled every
   20 ms; the figure is each process's peak above its resident memory before the task.
   The same download with ``cache_dir=None`` follows, for its rate.
2. N tasks (default 1,000) each staging a different small file in, on the same HTEX,
   against N tasks of the same app without inputs: the difference per task is the staging
   overhead, for the in-task and the separate-task provider with the per-node cache (the
   default) and for the in-task provider without it (``cache_dir=None``).
3. M tasks (default 20) all staging one file of S MiB (default 64) in, submitted at
   once, with the node cache (one download, the other tasks revalidate: http.server
   answers If-Modified-Since) and without it (every task downloads).

The providers' cache folder is inside the benchmark's temporary folder, and everything
is deleted afterwards. Usage::

    python packages/staging/benchmarks/staging_perf.py [--size-mib 1024] [--tasks 1000] \
        [--shared-mib 64] [--shared-tasks 20]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, List

import psutil

import parsl
from parsl import File, python_app
from parsl.config import Config

#: The standard library's file server, sending file bodies with sendfile(2) so the server
#: is not what limits the rate being compared.
_SERVER = """
import functools, http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source, outputfile):
        outputfile.flush()
        self.connection.sendfile(source)

    def log_message(self, *args):
        pass

handler = functools.partial(Handler, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def file_size(inputs: Any = ()) -> int:
    return os.path.getsize(inputs[0].filepath)


def noop(inputs: Any = ()) -> int:
    return 0


class PeakMemory:
    """Samples the RSS of the given processes and their descendants while active."""

    def __init__(self, roots: List[psutil.Process], exclude: int) -> None:
        self.roots = roots
        self.exclude = exclude
        self.baseline: Dict[int, int] = {}
        self.peak: Dict[int, int] = {}
        self.names: Dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _processes(self) -> List[psutil.Process]:
        found = []
        for root in self.roots:
            try:
                found.append(root)
                found.extend(root.children(recursive=True))
            except psutil.Error:
                continue
        return found

    def _sample(self) -> None:
        for process in self._processes():
            if process.pid == self.exclude:
                continue
            try:
                rss = process.memory_info().rss
                if process.pid not in self.baseline:
                    self.baseline[process.pid] = rss
                    self.names[process.pid] = " ".join(process.cmdline()[:3])[-60:]
                self.peak[process.pid] = max(self.peak.get(process.pid, 0), rss)
            except psutil.Error:
                continue

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.02)

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> int:
        worst = 0
        for pid, peak in sorted(self.peak.items()):
            extra = peak - self.baseline[pid]
            worst = max(worst, extra)
            print(f"    pid {pid:>7} {self.names[pid]:<60} +{extra / 2**20:7.1f} MiB")
        return worst


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--shared-mib", type=int, default=64)
    parser.add_argument("--shared-tasks", type=int, default=20)
    args = parser.parse_args()

    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider
    from parsl_staging import HTTPInTaskStaging, HTTPSeparateTaskStaging

    folder = tempfile.mkdtemp(prefix="parsl-staging-bench-")
    server = None
    dfk = None
    try:
        big = os.path.join(folder, "serve", "big.bin")
        os.makedirs(os.path.dirname(big))
        with open(big, "wb") as handle:
            handle.truncate(args.size_mib * 2**20)
        with open(os.path.join(folder, "serve", "shared.bin"), "wb") as handle:
            handle.write(os.urandom(args.shared_mib * 2**20))
        for i in range(args.tasks):
            with open(os.path.join(folder, "serve", f"small{i}.txt"), "w") as handle:
                handle.write(f"small file {i}\n")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port),
                                   os.path.join(folder, "serve")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/small0.txt", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        size = args.size_mib * 2**20
        curl_target = os.path.join(folder, "curl.bin")

        def curl() -> float:
            seconds = timed(lambda: subprocess.run(
                ["curl", "-sS", "--fail", "-o", curl_target, f"{base}/big.bin"],
                check=True, timeout=600))
            os.unlink(curl_target)
            return seconds

        work = os.path.join(folder, "work")
        cache = os.path.join(folder, "cache")
        in_task = HTTPInTaskStaging(cache_dir=cache)
        separate = HTTPSeparateTaskStaging(cache_dir=cache)
        config = Config(executors=[
            HighThroughputExecutor(label="in_task_nocache", max_workers_per_node=2,
                                   address="127.0.0.1", working_dir=work,
                                   storage_access=[HTTPInTaskStaging(cache_dir=None)],
                                   provider=LocalProvider(init_blocks=1, max_blocks=1)),
            HighThroughputExecutor(label="in_task", max_workers_per_node=2,
                                   address="127.0.0.1", working_dir=work,
                                   storage_access=[in_task],
                                   provider=LocalProvider(init_blocks=1, max_blocks=1)),
            HighThroughputExecutor(label="separate", max_workers_per_node=2,
                                   address="127.0.0.1", working_dir=work,
                                   storage_access=[separate],
                                   provider=LocalProvider(init_blocks=1, max_blocks=1)),
        ], run_dir=os.path.join(folder, "runinfo"))
        dfk = parsl.load(config)
        size_in_task = python_app(file_size, executors=["in_task"])
        noop_in_task = python_app(noop, executors=["in_task"])
        noop_separate = python_app(noop, executors=["separate"])
        noop_nocache = python_app(noop, executors=["in_task_nocache"])
        size_nocache = python_app(file_size, executors=["in_task_nocache"])
        # Warm up: workers started and connected, apps' code cached.
        noop_in_task().result(timeout=120)
        noop_separate().result(timeout=120)
        noop_nocache().result(timeout=120)
        noop_in_task(inputs=[File(f"{base}/small0.txt")]).result(timeout=120)
        noop_nocache(inputs=[File(f"{base}/small0.txt")]).result(timeout=120)

        # curl before and after the staged task; the faster run is the reference, so a
        # slow disk flush during one run does not flatter the staged rate.
        curl_seconds = curl()
        with PeakMemory([psutil.Process()], exclude=server.pid) as memory:
            staged_seconds = timed(lambda: size_in_task(
                inputs=[File(f"{base}/big.bin")]).result(timeout=600))
        os.unlink(os.path.join(work, "big.bin"))
        curl_seconds = min(curl_seconds, curl())
        uncached_seconds = timed(lambda: size_nocache(
            inputs=[File(f"{base}/big.bin")]).result(timeout=600))
        os.unlink(os.path.join(work, "big.bin"))

        print(f"1. {args.size_mib} MiB over HTTP from a loopback http.server")
        print(f"  curl (best of 2):  {curl_seconds:6.2f} s  {size / curl_seconds / 1e6:8.1f} MB/s")
        print(f"  HTTPInTaskStaging: {staged_seconds:6.2f} s  "
              f"{size / staged_seconds / 1e6:8.1f} MB/s  (task end to end; "
              f"{curl_seconds / staged_seconds:.2f} x curl's rate)")
        print(f"  same, cache_dir=None: {uncached_seconds:6.2f} s  "
              f"{size / uncached_seconds / 1e6:8.1f} MB/s  "
              f"({curl_seconds / uncached_seconds:.2f} x curl's rate)")
        print("  peak extra resident memory per process during the staged task:")
        worst = memory.report()
        print(f"  worst: +{worst / 2**20:.1f} MiB")

        def run(app: Any, staged: bool) -> float:
            def submit_all() -> None:
                futures = [app(inputs=[File(f"{base}/small{i}.txt")]) if staged else app()
                           for i in range(args.tasks)]
                for future in futures:
                    future.result(timeout=600)
            return timed(submit_all)

        import statistics

        import urllib3

        pool = urllib3.PoolManager()
        singles = []
        for i in range(200):
            started = time.perf_counter()
            assert pool.request("GET", f"{base}/small{i}.txt").status == 200
            singles.append(time.perf_counter() - started)
        print(f"2. {args.tasks} tasks, 2 workers, each staging one small file (for reference: "
              f"one small GET from this process takes {statistics.median(singles) * 1000:.2f}"
              " ms, median of 200)")
        for label, app in (("in-task", noop_in_task), ("separate-task", noop_separate),
                           ("in-task no cache", noop_nocache)):
            plain = run(app, False)
            staged = run(app, True)
            print(f"  {label:<16} without staging {plain:6.2f} s, with {staged:6.2f} s: "
                  f"overhead {(staged - plain) / args.tasks * 1000:6.2f} ms per task")

        print(f"3. {args.shared_tasks} tasks at once, all staging one {args.shared_mib} MiB "
              "file in (2 workers)")
        def shared(app: Any) -> None:
            futures = [app(inputs=[File(f"{base}/shared.bin")])
                       for _ in range(args.shared_tasks)]
            for future in futures:
                future.result(timeout=600)

        for label, app in (("node cache", size_in_task), ("cache_dir=None", size_nocache)):
            print(f"  {label:<16} {timed(lambda: shared(app)):6.2f} s")  # noqa: B023
    finally:
        if dfk is not None:
            dfk.cleanup()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

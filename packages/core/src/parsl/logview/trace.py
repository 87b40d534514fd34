"""A run as a Chrome/Perfetto trace (the JSON "Trace Event Format").

- one trace process per Parsl process (log file), named by its path in the run dir;
- per HTEX manager, one track per worker with a slice per try (worker_start to
  worker_end), named by the app and task;
- on the DFK's track, a short slice when each task is submitted and when it completes,
  joined to its worker slices by flow arrows;
- counter tracks from the periodic metric records (DFK pending and launched tasks,
  interchange queue, tasks held by each manager).

Open the file in https://ui.perfetto.dev or chrome://tracing. Events are written as they
are read; only tries that have started and not yet ended are held in memory.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, Sequence, TextIO, Tuple

from parsl.logview.records import LogFile, Record, find_log_files

_NEEDLES = ('"event": ', " event=", '"metric": ', " metric=", "task_events=")
_MARK_US = 50.0


class _Ids:
    def __init__(self) -> None:
        self.pids: Dict[str, int] = {}

    def pid(self, process: str) -> Tuple[int, bool]:
        known = self.pids.get(process)
        if known is not None:
            return known, False
        new = self.pids[process] = len(self.pids) + 1
        return new, True


def _us(t: float) -> float:
    return round(t * 1e6, 1)


def trace_events(files: Sequence[LogFile]) -> Iterator[Dict[str, Any]]:
    """Yield the trace events of a run's event and metric records."""
    ids = _Ids()
    apps: Dict[Any, str] = {}
    started: Dict[Tuple[str, Any], Record] = {}
    named_tracks: set[Tuple[int, int]] = set()
    for log in files:
        for r in log.records(_NEEDLES):
            ctx = r.context
            event = ctx.get("event")
            metric = ctx.get("metric")
            if event is None and metric is None:
                continue
            process = r.process.rsplit("/", 1)[0] if event in ("worker_start",
                                                                "worker_end") else r.process
            pid, new = ids.pid(process)
            if new:
                yield {"ph": "M", "name": "process_name", "pid": pid,
                       "args": {"name": process}}
            if metric is not None:
                name = str(metric)
                if "manager_id" in ctx:
                    name = f"{metric} {ctx['manager_id']}"
                yield {"ph": "C", "name": name, "pid": pid, "ts": _us(r.time),
                       "args": {str(metric): ctx.get("value", 0)}}
                continue
            task = ctx.get("task_id")
            if event == "submitted":
                apps[task] = str(ctx.get("app", "task"))
                yield {"ph": "X", "name": f"submit {task}", "pid": pid, "tid": 0,
                       "ts": _us(r.time), "dur": _MARK_US, "args": ctx}
                yield {"ph": "s", "name": "task", "cat": "task", "id": task, "pid": pid,
                       "tid": 0, "ts": _us(r.time)}
            elif event in ("completed", "failed", "dep_failed", "memo_hit"):
                yield {"ph": "X", "name": f"{event} {task}", "pid": pid, "tid": 0,
                       "ts": _us(r.time), "dur": _MARK_US, "args": ctx}
                yield {"ph": "f", "bp": "e", "name": "task", "cat": "task", "id": task,
                       "pid": pid, "tid": 0, "ts": _us(r.time)}
            elif event == "worker_start":
                started[(r.process, ctx.get("executor_task_id"))] = r
            elif event == "worker_end":
                start = started.pop((r.process, ctx.get("executor_task_id")), None)
                if start is None:
                    continue
                worker = ctx.get("worker_id", 0)
                tid = int(worker) + 1 if isinstance(worker, int) else 1
                if (pid, tid) not in named_tracks:
                    named_tracks.add((pid, tid))
                    yield {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                           "args": {"name": f"worker {worker}"}}
                args = {k: v for k, v in ctx.items() if k != "event"}
                yield {"ph": "X", "name": f"{apps.get(task, 'task')} {task}", "cat": "try",
                       "pid": pid, "tid": tid, "ts": _us(start.time),
                       "dur": max(_us(r.time) - _us(start.time), 1.0), "args": args}
                yield {"ph": "t", "name": "task", "cat": "task", "id": task, "pid": pid,
                       "tid": tid, "ts": _us(start.time)}


def write_trace(run_dir: str, out: TextIO, files: Sequence[LogFile] = ()) -> int:
    """Write the run's trace as a JSON array to ``out``; return the number of events."""
    count = 0
    out.write("[\n")
    for event in trace_events(files or find_log_files(run_dir)):
        if count:
            out.write(",\n")
        out.write(json.dumps(event, default=str))
        count += 1
    out.write("\n]\n")
    return count

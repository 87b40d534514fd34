"""One task's records from every process of a run, merged in time order, tries apart."""
from __future__ import annotations

import datetime
from typing import Any, Dict, Iterator, List, Sequence, TextIO, Tuple

from parsl.log_context import CONTEXT_KEYS
from parsl.logview.records import LogFile, Record, find_log_files


def task_needles(task_id: int) -> Tuple[str, ...]:
    """Substrings one of which every line about ``task_id`` contains: a JSON record or
    batched event, a text record's ``key=value`` pair, or a text batch's compact JSON."""
    return (f'"task_id": {task_id},', f'"task_id": {task_id}}}', f" task_id={task_id} ",
            f" task_id={task_id}\n", f'"task_id":{task_id},', f'"task_id":{task_id}}}')


def task_records(run_dir: str, task_id: int,
                 files: Sequence[LogFile] = ()) -> List[Record]:
    """Every record of ``task_id`` in the run, ordered by time, each with its try.

    Memory holds only this task's records: other lines are skipped before parsing.
    Records from an executor's own processes get the ``try_id`` of the DFK's
    ``launched`` record with the same executor and executor task id.
    """
    found: List[Record] = []
    for log in files or find_log_files(run_dir):
        found.extend(r for r in log.records(task_needles(task_id))
                     if r.context.get("task_id") == task_id)
    found.sort(key=Record.sort_key)
    tries: Dict[Tuple[Any, Any], Any] = {}
    for r in found:
        ctx = r.context
        if ctx.get("event") == "launched" and "executor_task_id" in ctx:
            tries[(ctx.get("executor"), ctx["executor_task_id"])] = ctx.get("try_id")
    for r in found:
        ctx = r.context
        if "try_id" not in ctx and "executor_task_id" in ctx:
            try_id = tries.get((ctx.get("executor"), ctx["executor_task_id"]))
            if try_id is not None:
                ctx["try_id"] = try_id
    return found


def _stamp(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]


def write_timeline(records: Sequence[Record], out: TextIO) -> None:
    """Print records as a table, with a heading line each time the try changes."""
    if not records:
        return
    start = records[0].time
    current_try: Any = object()
    for r in records:
        try_id = r.context.get("try_id")
        if try_id is not None and try_id != current_try:
            current_try = try_id
            out.write(f"--- try {try_id} ---\n")
        ids = " ".join(f"{k}={r.context[k]}" for k in CONTEXT_KEYS
                       if k in r.context and k not in ("task_id", "run_id", "try_id"))
        out.write(f"{_stamp(r.time)} +{(r.time - start) * 1000:9.3f} ms  {r.process} "
                  f"[pid {r.pid} {r.thread}] {r.source}:{r.lineno} {r.level}: "
                  f"{r.message}  {ids}\n")


def iter_json(records: Sequence[Record]) -> Iterator[Dict[str, Any]]:
    for r in records:
        yield r.as_dict()

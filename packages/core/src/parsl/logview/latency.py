"""Where a task's time goes: per step, the median and 95th percentile over all tasks.

A task's *path* is the sequence of events it went through (see
:data:`parsl.log_context.EVENTS`). Tasks are grouped by (app, executor, path), so tasks
that were retried, satisfied from the memo table or failed form groups of their own
instead of being refused or mixed with the others. Within a try, events are put in
their causal order (the order of EVENTS); each step is the time from the previous event.

Each file is read once, as light tuples (no record objects); a task's events are kept
until the end (about 2.5 KB a task: 250 MB for 100,000 tasks), then reduced to step
times per group. (Finding one task, ``parsl logs timeline``, keeps only that
task's records.)
"""
from __future__ import annotations

import itertools
import math
from array import array
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

from parsl.logview.records import EventTuple, LogFile, event_tuples, find_log_files

FINAL_EVENTS = frozenset({"completed", "failed", "dep_failed", "memo_hit"})

GroupKey = Tuple[str, str, Tuple[str, ...]]


class Group:
    """The tasks that share an app, an executor and a path, with their step times."""

    def __init__(self, path: Tuple[str, ...]) -> None:
        self.path = path
        self.count = 0
        self.steps: List[array[float]] = [array("d") for _ in path[1:]]
        self.total = array("d")

    def add(self, times: Sequence[float]) -> None:
        self.count += 1
        for i in range(1, len(times)):
            self.steps[i - 1].append(times[i] - times[i - 1])
        self.total.append(times[-1] - times[0])


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[index]


def _finish(events: List[EventTuple], groups: Dict[GroupKey, Group]) -> None:
    app: Any = None
    executor: Any = None
    tries: Dict[Tuple[Any, Any], Any] = {}
    for _, _, _, _, event, try_id, etid, ex, app_name in events:
        if app is None and app_name is not None:
            app = app_name
        if event == "launched":
            executor = ex
            tries[(ex, etid)] = try_id
        elif event == "submitted" and executor is None:
            executor = ex

    def order(e: EventTuple) -> Tuple[int, int, float]:
        when, rank, _, _, event, try_id, etid, ex, _ = e
        if event in _BEFORE_TRIES:
            return (-1, rank, when)
        if event in FINAL_EVENTS:
            return (1 << 30, rank, when)
        if try_id is None:
            try_id = tries.get((ex, etid), 0)
        return (try_id if isinstance(try_id, int) else 0, rank, when)

    if len({e[4] for e in events}) == len(events):
        events.sort(key=_rank)  # one try, each event once: causal order is rank order
    else:
        events.sort(key=order)
    path = tuple(e[4] for e in events)
    key = (str(app or "?"), str(executor or "?"), path)
    group = groups.get(key)
    if group is None:
        group = groups[key] = Group(path)
    group.add([e[0] for e in events])


_BEFORE_TRIES = frozenset({"submitted", "deps_resolved"})


def _rank(e: EventTuple) -> Tuple[int, float]:
    return (e[1], e[0])


def compute(run_dir: str, files: Sequence[LogFile] = ()) -> Dict[GroupKey, Group]:
    """Group every task of the run by (app, executor, path) with its step times."""
    groups: Dict[GroupKey, Group] = {}
    per_task: Dict[Any, List[EventTuple]] = {}
    seq = itertools.count()
    for log in files or find_log_files(run_dir):
        get = per_task.get
        for e in event_tuples(log, seq):
            task = e[3]
            events = get(task)
            if events is None:
                if task is None:
                    continue
                events = per_task[task] = []
            events.append(e)
    for events in per_task.values():
        _finish(events, groups)
    return groups


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:10.3f}"


def write_report(groups: Dict[GroupKey, Group], out: TextIO,
                 min_count: Optional[int] = None) -> None:
    """Print one table per group, largest group first."""
    if not groups:
        out.write("no per-task events found: log at level parsl.log_context.TASK_EVENTS "
                  "(e.g. Config(initialize_logging=JSONLogging(level=TASK_EVENTS)))\n")
        return
    total = sum(g.count for g in groups.values())
    out.write(f"{total} tasks in {len(groups)} groups (app, executor, path); times in ms\n")
    for (app, executor, path), group in sorted(groups.items(), key=lambda kv: -kv[1].count):
        if min_count is not None and group.count < min_count:
            continue
        out.write(f"\napp={app} executor={executor} tasks={group.count}\n")
        out.write(f"  {'step':<40}{'median':>11}{'p95':>11}\n")
        for i, values in enumerate(group.steps):
            step = f"{path[i]} -> {path[i + 1]}"
            out.write(f"  {step:<40}{_ms(percentile(values, 0.5))} "
                      f"{_ms(percentile(values, 0.95))}\n")
        out.write(f"  {'total':<40}{_ms(percentile(group.total, 0.5))} "
                  f"{_ms(percentile(group.total, 0.95))}\n")

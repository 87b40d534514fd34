"""Where a task's time goes: per step, the median and 95th percentile over all tasks.

A task's *path* is the sequence of events it went through (see
:data:`parsl.log_context.EVENTS`). Tasks are grouped by (app, executor, path), so tasks
that were retried, satisfied from the memo table or failed form groups of their own
instead of being refused or mixed with the others. Within a try, events are put in
their causal order (the order of EVENTS); each step is the time from the previous event.

The merge streams: log files are merged by time, and a task's events are held only
until shortly (GRACE) after its final event (completed, failed, dep_failed, memo_hit),
so memory follows the number of tasks in flight at once (plus a set of finished task
ids), not the number of records of the run.
"""
from __future__ import annotations

import collections
import heapq
import itertools
import math
from array import array
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Set, TextIO, Tuple

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

    events.sort(key=order)
    path = tuple(e[4] for e in events)
    key = (str(app or "?"), str(executor or "?"), path)
    group = groups.get(key)
    if group is None:
        group = groups[key] = Group(path)
    group.add([e[0] for e in events])


#: Seconds (of log time) a task's records may trail its final event, as when clocks of
#: two nodes differ slightly.
GRACE = 2.0
_BEFORE_TRIES = frozenset({"submitted", "deps_resolved"})


def compute(run_dir: str, files: Sequence[LogFile] = ()) -> Dict[GroupKey, Group]:
    """Group every task of the run by (app, executor, path) with its step times."""
    groups: Dict[GroupKey, Group] = {}
    open_tasks: Dict[Any, List[EventTuple]] = {}
    closing: Deque[Tuple[float, Any]] = collections.deque()
    finished: Set[Any] = set()
    files = files or find_log_files(run_dir)
    dfk_files = {log.path for log in files if log.process == "parsl"}
    seq = itertools.count()
    streams = [event_tuples(log, seq) if log.path not in dfk_files else _tag_final(log, seq)
               for log in files]
    for tagged in heapq.merge(*streams):
        when = tagged[0]
        while closing and closing[0][0] < when:
            _finish(open_tasks.pop(closing.popleft()[1]), groups)
        task = tagged[3]
        if task is None:
            continue
        events = open_tasks.get(task)
        if events is None:
            if task in finished:
                continue  # trailing its final event by more than GRACE: dropped
            events = open_tasks[task] = []
        if len(tagged) == 10:  # a final event of the DFK
            finished.add(task)
            closing.append((when + GRACE, task))
            events.append(tagged[:9])
        else:
            events.append(tagged)
    for events in open_tasks.values():
        _finish(events, groups)
    return groups


def _tag_final(log: LogFile, seq: Iterator[int]) -> Iterator[Any]:
    """The DFK's events, final ones marked (a tenth element) so tasks can close."""
    for e in event_tuples(log, seq):
        yield (*e, True) if e[4] in FINAL_EVENTS else e


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

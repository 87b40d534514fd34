"""Parse text (``*.log``) and JSON (``*.jsonlog``) log files of a run into records.

Both formats carry the ids of :mod:`parsl.log_context`: JSON logs as fields, text logs as
``key=value`` pairs at the end of a record's first line. A record's *process* is its log
file's path relative to the run directory without the extension (``parsl``,
``htex/interchange``, ``htex/block-0/<manager>/worker_1``), which names it uniquely even
with several executors of the same kind in one run.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from parsl.log_context import CONTEXT_KEYS, EVENTS, SPAN_STARTS

_KEYS = frozenset((*CONTEXT_KEYS, "task_events"))
#: Canonical position of each event in a task's life, for ordering ties.
EVENT_RANK: Dict[str, int] = {name: i for i, name in enumerate(EVENTS)}
_SKIP_DIRS = frozenset({"submit_scripts", "task_logs", "log_config", "certificates"})

# [created] asctime.msecs name:lineno processName(pid) threadName funcName LEVEL: message
# (parsl.log starts with epoch seconds, HTEX processes do not and write "[LEVEL] message");
# thread names may contain spaces.
_TEXT = re.compile(
    r"(?:(\d+\.\d+) )?"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[.,](\d{3}) (\S+):(\d+) (.+?)\((\d+)\) (.+?) (\S+) "
    r"(?:\[([A-Z]+)\]|([A-Z]+):) (.*)")


class Record:
    """One log record: when, where (process, pid, thread, source), what, and its ids."""

    __slots__ = ("context", "level", "lineno", "logger", "message", "pid", "process",
                 "source", "thread", "time")

    def __init__(self, time: float, process: str, pid: int, thread: str, logger: str,
                 source: str, lineno: int, level: str, message: str,
                 context: Dict[str, Any]) -> None:
        self.time = time
        self.process = process
        self.pid = pid
        self.thread = thread
        self.logger = logger
        self.source = source
        self.lineno = lineno
        self.level = level
        self.message = message
        self.context = context

    @property
    def event(self) -> Optional[str]:
        value = self.context.get("event")
        return value if isinstance(value, str) else None

    def sort_key(self) -> Any:
        return (self.time, EVENT_RANK.get(self.event or "", -1))

    def as_dict(self) -> Dict[str, Any]:
        return {"time": self.time, "process": self.process, "pid": self.pid,
                "thread": self.thread, "logger": self.logger, "source": self.source,
                "lineno": self.lineno, "level": self.level, "message": self.message,
                **self.context}


class LogFile:
    """A log file of a run and the process it belongs to."""

    def __init__(self, path: str, run_dir: str) -> None:
        self.path = path
        relative = os.path.relpath(path, run_dir)
        self.process = os.path.splitext(relative)[0].replace(os.sep, "/")
        self.is_json = path.endswith(".jsonlog")
        parts = self.process.split("/")
        #: An executor's processes log under <run_dir>/<label>/: the label is implied.
        self.executor = parts[0] if len(parts) > 1 else None

    def records(self, needles: Sequence[str] = ()) -> Iterator[Record]:
        """The file's records in file order; with ``needles``, only lines containing one
        of them are parsed (the others cannot be what the caller wants)."""
        reader = _json_records if self.is_json else _text_records
        return _expand(reader(self, needles))

    def __repr__(self) -> str:
        return f"LogFile({self.path!r})"


def _expand(records: Iterator[Record]) -> Iterator[Record]:
    """One record per event: unpack ``task_events`` batches, and put back the earlier
    event that a record with ``started`` stands for (see parsl.log_context)."""
    for r in records:
        entries = r.context.get("task_events")
        if entries is None:
            yield from _with_span_start(r)
            continue
        base = {k: v for k, v in r.context.items() if k != "task_events"}
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            ctx = dict(base)
            ctx.update(entry)
            when = ctx.pop("time", r.time)
            thread = ctx.pop("thread", r.thread)
            event = ctx.get("event", "?")
            # A batch is written by its buffer's flusher: name the logger (the module
            # that met the events), not the flushing line.
            yield from _with_span_start(Record(
                float(when), r.process, r.pid, str(thread), r.logger, r.logger, 0,
                r.level, f"Task {ctx.get('task_id')} {event}", ctx))


def _with_span_start(r: Record) -> Iterator[Record]:
    ctx = r.context
    started = ctx.get("started")
    start_event = SPAN_STARTS.get(ctx.get("event", ""))
    if started is not None and start_event is not None:
        drop = ("started",) if start_event == "worker_start" else (
            "started", "try_id", "executor_task_id")
        start_ctx = {k: v for k, v in ctx.items() if k not in drop}
        start_ctx["event"] = start_event
        yield Record(float(started), r.process, r.pid, r.thread, r.logger, r.source,
                     r.lineno, r.level, f"({start_event}) {r.message}", start_ctx)
    yield r


EventTuple = Tuple[float, int, int, Any, str, Any, Any, Any, Any]


def event_tuples(log: LogFile, seq: Optional[Iterator[int]] = None) -> Iterator[EventTuple]:
    """The file's per-task events as light tuples, in file order:
    ``(time, rank, seq, task_id, event, try_id, executor_task_id, executor, app)``.

    For whole-run summaries: no Record objects are made, and batches of events
    (``task_events``) are unpacked straight from their JSON. ``seq`` numbers the
    events; share one counter between files merged together so no two tuples compare
    equal on (time, rank, seq).
    """
    if seq is None:
        seq = itertools.count()
    rank = EVENT_RANK.get
    spans = SPAN_STARTS
    loads = json.loads
    marker = '"task_events": ' if log.is_json else " task_events=["
    with open(log.path, encoding="utf-8", errors="replace") as f:
        for line in f:
            at = line.find(marker)
            if at >= 0:
                if log.is_json:
                    raw = loads(line)
                    entries = raw.get("task_events") or ()
                    default = raw.get("executor", log.executor)
                else:
                    try:
                        entries = loads(line[at + len(" task_events="):])
                    except ValueError:
                        continue
                    default = log.executor
                    tail = line[:at]
                    found = tail.rfind(" executor=")
                    if found >= 0:
                        default = tail[found + 10:].split(" ", 1)[0]
                for e in entries:
                    get = e.get
                    event = get("event", "")
                    task = get("task_id")
                    executor = get("executor", default)
                    etid = get("executor_task_id")
                    app = get("app")
                    started = get("started")
                    if started is not None:
                        start_event = spans.get(event)
                        if start_event is not None:
                            try_id = get("try_id") if start_event == "worker_start" else None
                            yield (float(started), rank(start_event, 0), next(seq), task,
                                   start_event, try_id, etid, executor, app)
                    yield (get("time", 0.0), rank(event, 0), next(seq), task, event,
                           get("try_id"), etid, executor, app)
            elif ('"event": ' in line) if log.is_json else (" event=" in line):
                for r in (_parse_json if log.is_json else _parse_text)(log, (line,)):
                    for x in _with_span_start(r):
                        ctx = x.context
                        event = ctx.get("event")
                        if event is None or ctx.get("task_id") is None:
                            continue
                        yield (x.time, rank(event, 0), next(seq), ctx["task_id"], event,
                               ctx.get("try_id"), ctx.get("executor_task_id"),
                               ctx.get("executor"), ctx.get("app"))


def find_log_files(run_dir: str) -> List[LogFile]:
    """Every ``*.log`` and ``*.jsonlog`` file of a run (one per process and format)."""
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"run directory {run_dir!r} does not exist (expected a "
                                "runinfo/NNN folder of a Parsl run)")
    found: List[LogFile] = []
    for folder, dirs, files in os.walk(run_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith((".log", ".jsonlog")):
                found.append(LogFile(os.path.join(folder, name), run_dir))
    if not found:
        raise FileNotFoundError(f"no *.log or *.jsonlog files under {run_dir!r}")
    return found


def _lines(log: LogFile, needles: Sequence[str]) -> Iterator[str]:
    with open(log.path, encoding="utf-8", errors="replace") as f:
        if not needles:
            yield from f
            return
        for line in f:
            for needle in needles:
                if needle in line:
                    yield line
                    break


def _json_records(log: LogFile, needles: Sequence[str]) -> Iterator[Record]:
    return _parse_json(log, _lines(log, needles))


def _parse_json(log: LogFile, lines: Iterable[str]) -> Iterator[Record]:
    loads = json.loads
    for line in lines:
        try:
            raw = loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        context = {k: raw[k] for k in raw.keys() & _KEYS}
        if log.executor is not None and "executor" not in context:
            context["executor"] = log.executor
        yield Record(raw.get("created", 0.0), log.process, raw.get("process", 0),
                     str(raw.get("threadName", "")), raw.get("name", ""),
                     os.path.basename(raw.get("pathname", "")), raw.get("lineno", 0),
                     raw.get("levelname", ""), raw.get("formatted", ""), context)


class _Clock:
    """Local 'YYYY-mm-dd HH:MM:SS' to epoch seconds, cached per second."""

    def __init__(self) -> None:
        self.text = ""
        self.value = 0.0

    def __call__(self, text: str) -> float:
        if text != self.text:
            self.value = time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S"))
            self.text = text
        return self.value


def split_context(message: str) -> tuple[str, Dict[str, Any]]:
    """Split the trailing ``key=value`` context pairs (and a final ``task_events=[...]``
    of batched events) off a text record's first line."""
    context: Dict[str, Any] = {}
    batch = message.rfind(" task_events=[")
    if batch >= 0:
        try:
            context["task_events"] = json.loads(message[batch + len(" task_events="):])
            message = message[:batch]
        except ValueError:
            pass
    end = len(message)
    while True:
        space = message.rfind(" ", 0, end)
        token = message[space + 1:end]
        key, eq, value = token.partition("=")
        if not eq or key not in _KEYS or key in context:
            break
        context[key] = (int(value) if value.isdigit()
                        else float(value) if key == "started" else value)
        end = space
        if space < 0:
            break
    return message[:max(end, 0)], context


def _text_records(log: LogFile, needles: Sequence[str]) -> Iterator[Record]:
    return _parse_text(log, _lines(log, needles), keep_continuations=not needles)


def _parse_text(log: LogFile, lines: Iterable[str],
                keep_continuations: bool = False) -> Iterator[Record]:
    clock = _Clock()
    match = _TEXT.match
    pending: Optional[Record] = None
    for line in lines:
        m = match(line)
        if m is None:
            if pending is not None and keep_continuations:
                pending.message += "\n" + line.rstrip("\n")
            continue
        if pending is not None:
            yield pending
        (created, stamp, ms, name, lineno, _process_name, pid, thread, func, level_a,
         level_b, rest) = m.groups()
        message, context = split_context(rest.rstrip("\n"))
        if log.executor is not None and "executor" not in context:
            context["executor"] = log.executor
        when = float(created) if created else clock(stamp) + int(ms) / 1000
        pending = Record(when, log.process, int(pid), thread,
                         name, f"{name}:{func}", int(lineno), level_a or level_b,
                         message, context)
    if pending is not None:
        yield pending

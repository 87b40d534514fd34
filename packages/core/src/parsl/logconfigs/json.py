"""JSONLogging: one JSON object per record, for programs (``parsl logs``) to read."""
from __future__ import annotations

import json
import logging
import pathlib
from typing import Any, Callable, Dict

from parsl.log_context import CONTEXT_KEYS, process_context
from parsl.logconfigs.base import LogConfig, add_handler, parsl_loggers, set_min_level

_CONTEXT = frozenset(CONTEXT_KEYS)


class JSONHandler(logging.Handler):
    """Write each record to ``filename`` as one JSON object on its own line.

    Fields: ``created`` (epoch seconds), ``process``, ``processName``, ``thread``,
    ``threadName``, ``name`` (logger), ``pathname``, ``lineno``, ``funcname``,
    ``levelname``, ``msg`` (the template), ``formatted`` (the formatted text, with any
    traceback), every context id of :mod:`parsl.log_context` present on the record or
    set for the process, and any ``extra`` field whose name starts with ``parsl.``.
    """

    def __init__(self, filename: pathlib.Path, mode: str = "a") -> None:
        super().__init__()
        self.filename = filename
        self.stream = open(filename, mode, encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = record.__dict__
            out: Dict[str, Any] = {
                "created": record.created, "process": record.process,
                "processName": record.processName, "thread": record.thread,
                "threadName": record.threadName, "name": record.name,
                "pathname": record.pathname, "lineno": record.lineno,
                "funcname": record.funcName, "levelname": record.levelname,
                "msg": record.msg if isinstance(record.msg, str) else repr(record.msg),
                "formatted": self.format(record),
            }
            out.update(process_context())
            for key in fields.keys() & _CONTEXT:
                out[key] = fields[key]
            for key in fields:
                if key.startswith("parsl."):
                    out[key] = fields[key]
            line = json.dumps(out, default=_fallback)
            stream = self.stream
            stream.write(line + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.acquire()
        try:
            if not self.stream.closed:
                self.stream.close()
        finally:
            self.release()
        super().close()


def _fallback(value: Any) -> str:
    try:
        return str(value)
    except Exception as e:  # a broken __str__ must not lose the record
        return f"UNREPRESENTABLE: {e!r}"


class JSONLogging(LogConfig):
    """Write ``<log_name>.jsonlog`` in each process's log folder, one JSON object a line.

    It collects records of every logger (it is attached to the root logger) at
    ``level`` and above. ``level=parsl.log_context.TASK_EVENTS`` records per-task events
    and metrics without DEBUG output.
    """

    def __init__(self, *, level: int = logging.DEBUG) -> None:
        super().__init__()
        if not isinstance(level, int):
            raise TypeError(f"JSONLogging: level must be a logging level (int), got {level!r}")
        self.level = level

    def initialize_logging(self, *, log_dir: pathlib.Path,
                           log_name: str) -> Callable[[], None]:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = JSONHandler(log_dir / f"{log_name}.jsonlog")
        handler.setFormatter(logging.Formatter("%(message)s"))
        for parsl_logger in parsl_loggers():
            # A level an earlier run left on them must not hide this run's records.
            set_min_level(parsl_logger, self.level)
        return add_handler(handler, [logging.getLogger()], self.level)

    def __repr__(self) -> str:
        return f"JSONLogging(level={logging.getLevelName(self.level)!r})"

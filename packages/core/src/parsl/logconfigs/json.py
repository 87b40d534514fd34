"""JSONLogging: one JSON object per record, for programs (``parsl logs``) to read."""
from __future__ import annotations

import json
import logging
import pathlib
from typing import Any, Callable, Dict

from parsl.log_context import CONTEXT_KEYS, ambient_ids, process_context
from parsl.logconfigs.base import LogConfig, add_handler, claim_level, parsl_loggers

_CONTEXT = frozenset((*CONTEXT_KEYS, "task_events"))
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}
_process_context = process_context()


class JSONHandler(logging.Handler):
    """Write each record to ``filename`` as one JSON object on its own line.

    Fields: ``created`` (epoch seconds), ``process``, ``processName``, ``thread``,
    ``threadName``, ``name`` (logger), ``pathname``, ``lineno``, ``funcname``,
    ``levelname``, ``msg`` (the template), ``formatted`` (the formatted text, with any
    traceback), every context id of :mod:`parsl.log_context` present on the record or
    set for the process, ``task_events`` (a list of batched per-task events, see
    :class:`parsl.log_context.TaskEvents`), and any ``extra`` field whose name starts
    with ``parsl.``.
    """

    def __init__(self, filename: pathlib.Path, mode: str = "a") -> None:
        super().__init__()
        self.filename = filename
        self.stream = open(filename, mode, encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = record.__dict__
            message = record.getMessage()
            if record.exc_info or record.stack_info:
                message = self.format(record)
            msg = record.msg
            out: Dict[str, Any] = {
                "created": record.created, "process": record.process,
                "processName": record.processName, "thread": record.thread,
                "threadName": record.threadName, "name": record.name,
                "pathname": record.pathname, "lineno": record.lineno,
                "funcname": record.funcName, "levelname": record.levelname,
                "msg": msg if isinstance(msg, str) else repr(msg),
                "formatted": message,
            }
            if _process_context:
                out.update(_process_context)
            ambient = ambient_ids()
            if ambient:
                out.update(ambient)
            # Only attributes a plain LogRecord lacks can be context ids or parsl.* extras.
            for key in fields.keys() - _STANDARD:
                if key in _CONTEXT or key.startswith("parsl."):
                    out[key] = fields[key]
            stream = self.stream
            stream.write(_encode(out) + "\n")
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
    """Stand-in for values json cannot encode: their str()."""
    try:
        return str(value)
    except Exception as e:  # a broken __str__ must not lose the record
        return f"UNREPRESENTABLE: {e!r}"


_encode = json.JSONEncoder(default=_fallback, ensure_ascii=False,
                           check_circular=False).encode


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
        # A level set on Parsl's loggers must not hide this run's records; the levels
        # go back when the configuration is undone.
        releases = [claim_level(parsl_logger, self.level) for parsl_logger in parsl_loggers()]
        remove = add_handler(handler, [logging.getLogger()], self.level)

        def undo() -> None:
            remove()
            for release in releases:
                release()

        return undo

    def __repr__(self) -> str:
        return f"JSONLogging(level={logging.getLevelName(self.level)!r})"

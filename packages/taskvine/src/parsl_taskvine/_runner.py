"""Runs one Parsl task on a TaskVine or Work Queue worker.

Regular mode sends this file with every task (cached on the worker) and starts
``python3 parsl_taskvine_runner.py FUNCTION RESULT`` in the task's sandbox, so this
module imports nothing but the standard library and cloudpickle (which ndcctools needs
anyway): the interpreter start is most of a short
task's cost, and importing parsl here would double it. Serverless mode calls
:func:`run_parsl_task` inside a TaskVine library process.

The task message is ``cloudpickle.dumps((func, args, kwargs))`` (``func`` may be a
``(name, source)`` pair instead, see WorkQueueExecutor's ``source``), loaded with plain
``pickle`` (which imports cloudpickle only when the message needs it). The outcome written back
is ``cloudpickle.dumps(("ok", value))``, ``("error", exception, traceback_text)``, or
``("unpicklable", type_name, message, traceback_text)`` when the exception or the result
cannot be pickled; the submit side turns it into the future's result or exception.

With monitoring on, the manager gives a regular task ``PARSL_TASK_OBSERVER`` (the
monitoring plugin's worker-observer token: URL-safe base64 of JSON ``{"factory":
"module:callable", "config": {...}}``) and ``PARSL_TASK_IDS`` ("EXECUTOR_TASK_ID
DFK_TASK_ID"); the runner then tells the observer when the task starts and ends, and
flushes it before the result goes back. Without them nothing more is imported.
"""
from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, List, Tuple


def _dumps(outcome: Tuple[Any, ...]) -> bytes:
    """Plain pickle first: importing cloudpickle costs more than most short tasks."""
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import cloudpickle

        return bytes(cloudpickle.dumps(outcome))


def _observer() -> Any:
    """The task observer named by ``PARSL_TASK_OBSERVER``, or None (never raises)."""
    token = os.environ.get("PARSL_TASK_OBSERVER")
    if not token:
        return None
    try:
        import base64
        import importlib
        import json

        spec = json.loads(base64.urlsafe_b64decode(token.encode()))
        module_name, _, attr = spec["factory"].partition(":")
        return getattr(importlib.import_module(module_name), attr)(spec.get("config", {}))
    except Exception:
        sys.stderr.write("parsl_taskvine_runner: cannot load the task observer; running "
                         "without monitoring\n")
        traceback.print_exc()
        return None


def _from_source(name: str, source: str) -> Any:
    """The function ``name`` defined by ``source`` (WorkQueueExecutor's ``source=True``)."""
    namespace: dict[str, Any] = {"__name__": "__parsl_app__"}
    exec(compile(source, f"<parsl app {name}>", "exec"), namespace)
    return namespace[name]


def _outcome(payload: bytes) -> Tuple[Any, ...]:
    try:
        func, args, kwargs = pickle.loads(payload)
        if isinstance(func, tuple):
            func = _from_source(*func)
        return ("ok", func(*args, **kwargs))
    except BaseException as e:
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        return ("error", e, text)


def run_parsl_task(payload: bytes) -> bytes:
    """Run the task in ``payload`` and return its serialized outcome; never raises."""
    return _serialize(_outcome(payload))


def _serialize(outcome: Tuple[Any, ...]) -> bytes:
    try:
        return _dumps(outcome)
    except Exception as e:
        if outcome[0] == "ok":
            what = f"the result of type {type(outcome[1]).__qualname__}"
            text = ""
        else:
            what = f"the exception {type(outcome[1]).__qualname__}: {outcome[1]}"
            text = outcome[2]
        message = f"cannot serialize {what} on the worker: {type(e).__name__}: {e}"
        return pickle.dumps(("unpicklable", type(e).__name__, message, text))


def run_parsl_tasks(payloads: List[bytes]) -> List[bytes]:
    """Run several tasks one after another (a batched serverless call); never raises."""
    return [run_parsl_task(payload) for payload in payloads]


#: The observer of this library process, loaded by the first monitored call.
_LIBRARY_OBSERVER: List[Any] = []


def _library_observer() -> Any:
    if not _LIBRARY_OBSERVER:
        _LIBRARY_OBSERVER.append(_observer())
    return _LIBRARY_OBSERVER[0]


def _observed(observer: Any, executor_id: int, dfk_id: Any, payload: bytes) -> bytes:
    """Run one task, telling ``observer`` (if any) when it starts and ends."""
    if observer is None:
        return run_parsl_task(payload)
    observer.task_started(executor_id, dfk_id)
    outcome = _outcome(payload)
    observer.task_ended(executor_id, dfk_id, outcome[0] == "ok")
    return _serialize(outcome)


def run_parsl_task_observed(executor_id: int, dfk_id: Any, payload: bytes) -> bytes:
    """:func:`run_parsl_task` in a monitored library (``PARSL_TASK_OBSERVER`` set)."""
    observer = _library_observer()
    result = _observed(observer, executor_id, dfk_id, payload)
    if observer is not None:
        observer.flush()
    return result


def run_parsl_tasks_observed(items: List[Tuple[int, Any, bytes]]) -> List[bytes]:
    """:func:`run_parsl_tasks` in a monitored library; items are (executor task id,
    DFK task id, payload). The events go out before the results do."""
    observer = _library_observer()
    results = [_observed(observer, *item) for item in items]
    if observer is not None:
        observer.flush()
    return results


def main(argv: List[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: python parsl_taskvine_runner.py FUNCTION_FILE RESULT_FILE\n")
        return 2
    with open(argv[1], "rb") as f:
        payload = f.read()
    observer = _observer()
    if observer is None:
        result = run_parsl_task(payload)
    else:
        words = os.environ.get("PARSL_TASK_IDS", "").split()
        executor_id = int(words[0]) if words else -1
        dfk_id = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
        result = _observed(observer, executor_id, dfk_id, payload)
        observer.close()
    with open(argv[2], "wb") as f:
        f.write(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

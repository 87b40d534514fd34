"""Bash apps: the function returns a shell command, which runs where the task runs.

The command string is built on the worker, by calling the app function there with the
task's resolved arguments, so it can use values only known at run time.
"""
from __future__ import annotations

import functools
import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Literal,
    Optional,
    Sequence,
    Set,
    Union,
)

from parsl.app.app import AUTO_LOGNAME, AppBase
from parsl.app.errors import (
    AppTimeout,
    BadStdStreamFile,
    BashAppNoReturn,
    BashExitFailure,
    MissingOutputs,
)
from parsl.data_provider.files import File
from parsl.utils import get_std_fname_mode

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.futures import AppFuture

logger = logging.getLogger(__name__)

_PARSL_ONLY_KWARGS = ("stdout", "stderr", "walltime", "parsl_resource_specification",
                      "inputs", "outputs")

#: Process groups of the bash commands running in this process, for
#: :func:`stop_running_commands`.
_running: Set[int] = set()
_running_lock = threading.Lock()
#: Counts calls of :func:`stop_running_commands`, so a command started while one ran (and
#: so missed by it) is stopped by its own task.
_stops = [0]
#: Each command gets a process group of its own (in the worker's session, so a signal to
#: the whole job still reaches it), which lets its whole tree be ended with it.
if sys.version_info >= (3, 11):
    _OWN_GROUP: Dict[str, Any] = {"process_group": 0}
else:  # pragma: no cover - Python < 3.11
    _OWN_GROUP = {"preexec_fn": os.setpgrp}


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_running_commands() -> int:
    """Kill every bash app command still running in this process, with its process group.

    Called when the run ends (a thread executor's shutdown) so no command outlives it;
    the apps waiting for them fail. Returns how many groups were signalled.
    """
    with _running_lock:
        groups = list(_running)
        _stops[0] += 1
    for pgid in groups:
        _kill_group(pgid)
    if groups:
        logger.info("Killed %d bash app commands still running at shutdown", len(groups))
    return len(groups)


def _open_std_stream(stream: Any, name: str) -> Optional[Any]:
    """Open ``stdout=``/``stderr=`` given as a path, path-like, (path, mode) tuple or File.

    A File is written afresh (mode ``"w"``), as in Parsl, so its stage-out sees only this
    task's output.
    """
    if stream is None:
        return None
    if isinstance(stream, File):
        path, mode = stream.filepath, "w"
    else:
        path, mode = get_std_fname_mode(name, stream)
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        return open(path, mode)
    except (OSError, ValueError) as e:
        raise BadStdStreamFile(f"cannot open {name} file {path!r} with mode {mode!r}: "
                               f"{e}") from e


def check_std_streams(kwargs: Dict[str, Any]) -> None:
    """Refuse a malformed ``stdout``/``stderr`` at call time, naming it, rather than when
    the task runs (the same exception types Parsl's task would fail with)."""
    for name in ("stdout", "stderr"):
        stream = kwargs.get(name)
        if stream is not None and stream is not AUTO_LOGNAME and not isinstance(stream, File):
            get_std_fname_mode(name, stream)


def _kwargs_for(func: Callable[..., Any], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Drop Parsl-only keywords the function does not declare (Parsl lets callers pass
    ``stdout=`` and friends to any bash app)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params or k not in _PARSL_ONLY_KWARGS}


def remote_side_bash_executor(func: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Build the command by calling ``func`` and run it with bash; runs on the worker."""
    app_name = getattr(func, "__name__", type(func).__name__)
    command = func(*args, **_kwargs_for(func, kwargs))
    if not isinstance(command, str):
        raise BashAppNoReturn(f"bash_app {app_name!r} must return a command string, "
                              f"returned {command!r} ({type(command).__name__})")
    stdout = _open_std_stream(kwargs.get("stdout"), "stdout")
    stderr = _open_std_stream(kwargs.get("stderr"), "stderr")
    walltime = kwargs.get("walltime")
    try:
        stops = _stops[0]
        proc = subprocess.Popen(command, shell=True, executable="/bin/bash", stdout=stdout,
                                stderr=stderr, close_fds=False, **_OWN_GROUP)
        with _running_lock:
            _running.add(proc.pid)
            stopped = _stops[0] != stops
        if stopped:
            _kill_group(proc.pid)
        try:
            returncode = proc.wait(timeout=walltime)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            raise AppTimeout(f"bash_app {app_name} exceeded walltime: {walltime} seconds"
                             ) from None
        finally:
            # What the command left running in its group (``cmd &``) ends with the task.
            with _running_lock:
                _running.discard(proc.pid)
            _kill_group(proc.pid)
    finally:
        for handle in (stdout, stderr):
            if handle is not None:
                handle.close()
    if returncode != 0:
        raise BashExitFailure(app_name, returncode)
    missing = [f for f in kwargs.get("outputs", ()) if not os.path.exists(f.filepath)]
    if missing:
        raise MissingOutputs(f"bash_app {app_name} did not create its outputs", missing)
    return returncode


class BashApp(AppBase):
    """A function returning a shell command, as an app."""

    def __init__(self, func: Callable[..., Any],
                 data_flow_kernel: Optional[DataFlowKernel] = None, cache: bool = False,
                 executors: Union[List[str], Literal["all"]] = "all",
                 ignore_for_cache: Optional[Sequence[str]] = None) -> None:
        super().__init__(func, data_flow_kernel=data_flow_kernel, executors=executors,
                         cache=cache, ignore_for_cache=ignore_for_cache)
        self.wrapped_remote_function = functools.partial(remote_side_bash_executor, func)

    def __call__(self, *args: Any, **kwargs: Any) -> AppFuture:
        invocation_kwargs = self._invocation_kwargs(kwargs)
        if invocation_kwargs:
            check_std_streams(invocation_kwargs)
        dfk = self.data_flow_kernel or self._dfk()
        return dfk.submit(self.wrapped_remote_function, args, executors=self.executors,
                          cache=self.cache, ignore_for_cache=self.ignore_for_cache,
                          app_kwargs=invocation_kwargs, func_name=self.__name__,
                          fn_hash=self._fn_hash_for_cache() if self.cache else None,
                          app_kind="bash")

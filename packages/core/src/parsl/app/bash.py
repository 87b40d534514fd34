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
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional, Sequence, Union

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
        proc = subprocess.Popen(command, shell=True, executable="/bin/bash", stdout=stdout,
                                stderr=stderr, close_fds=False, start_new_session=True)
        try:
            returncode = proc.wait(timeout=walltime)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise AppTimeout(f"bash_app {app_name} exceeded walltime: {walltime} seconds"
                             ) from None
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

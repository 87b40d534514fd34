"""Helpers that Parsl exposes as ``parsl.utils``: finding checkpoints, std stream modes,
timers, waiting for files, representations and DNS-safe names."""
from __future__ import annotations

import inspect
import itertools
import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from types import TracebackType
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Tuple,
    Type,
)

from parsl.providers.base import execute_wait
from parsl.providers.cluster_provider_common import wtime_to_minutes
from parsl.version import VERSION

logger = logging.getLogger(__name__)

__all__ = ["AtomicIDCounter", "AutoCancelTimer", "RepresentationMixin", "Timer",
           "execute_wait", "get_all_checkpoints", "get_last_checkpoint",
           "get_std_fname_mode", "get_version", "sanitize_dns_label_rfc1123",
           "sanitize_dns_subdomain_rfc1123", "setproctitle", "time_limited_open",
           "wait_for_file", "wtime_to_minutes"]


def get_version() -> str:
    """The version of parsl (``parsl.__version__``)."""
    return VERSION


def _run_dirs_with_checkpoints(rundir: str) -> List[str]:
    if not os.path.isdir(rundir):
        return []
    found = []
    # Numbered run folders sort by number: runinfo/1000 comes after runinfo/999.
    names = sorted(os.listdir(rundir), key=lambda n: (0, int(n), n) if n.isdigit() else (1, 0, n))
    for name in names:
        checkpoint = os.path.join(rundir, name, "checkpoint")
        if os.path.isdir(checkpoint):
            found.append(os.path.abspath(checkpoint))
    return found


def get_all_checkpoints(rundir: str = "runinfo") -> List[str]:
    """The checkpoint directories of every earlier run under ``rundir``, oldest first.

    Pass the result as ``checkpoint_files`` to reuse everything any earlier run computed;
    after a chain of crashed runs this is what restores all of their work.
    """
    checkpoints = _run_dirs_with_checkpoints(rundir)
    logger.debug("Found %d checkpoints under %s", len(checkpoints), rundir)
    return checkpoints


def get_last_checkpoint(rundir: str = "runinfo") -> List[str]:
    """A list holding the checkpoint directory of the most recent run that has one.

    Empty when no run under ``rundir`` wrote a checkpoint. A run checkpoints the results
    it reused from earlier checkpoints too (as Parsl does), so the last checkpoint of a
    chain of restarted runs holds everything the chain computed.
    """
    checkpoints = _run_dirs_with_checkpoints(rundir)
    return checkpoints[-1:]


def _is_write_mode(mode: str) -> bool:
    """Whether ``open()`` accepts ``mode`` for writing text: one of w/a/x, optionally
    with + and t, each at most once."""
    return (bool(mode) and set(mode) <= set("wax+t") and len(set(mode)) == len(mode)
            and sum(c in "wax" for c in mode) == 1)


def get_std_fname_mode(fdname: str, stdfspec: Any) -> Tuple[str, str]:
    """Split a ``stdout``/``stderr`` app argument into (path, open mode).

    A path (str, bytes or path-like) opens in append mode (``"a+"``); a ``(path, mode)``
    tuple picks the mode (``"w"`` truncates). A spec of the wrong shape raises
    :class:`parsl.app.errors.BadStdStreamSpec` (a ``typeguard.TypeCheckError``, as in
    Parsl); a mode that cannot write raises :class:`parsl.app.errors.BadStdStreamFile`.
    """
    import parsl.app.errors as pe

    mode = "a+"
    path = stdfspec
    if isinstance(stdfspec, tuple):
        if len(stdfspec) != 2:
            raise pe.BadStdStreamSpec(
                f"{fdname} tuple must be (path, mode), got {len(stdfspec)} items: "
                f"{stdfspec!r}")
        path, mode = stdfspec
        if not isinstance(mode, str):
            raise pe.BadStdStreamSpec(
                f"{fdname} mode must be a string such as 'w' or 'a', got {mode!r} in "
                f"{stdfspec!r}")
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        path = path.decode()
    if not isinstance(path, str):
        raise pe.BadStdStreamSpec(
            f"{fdname} must be a path or a (path, mode) tuple, got {stdfspec!r} "
            f"({type(stdfspec).__name__})")
    if not _is_write_mode(mode):
        raise pe.BadStdStreamFile(
            f"{fdname} mode {mode!r} cannot write a file; use 'w' to truncate or 'a' to "
            f"append (in {stdfspec!r})")
    return path, mode


@contextmanager
def wait_for_file(path: str, seconds: float = 10) -> Iterator[None]:
    """Wait until ``path`` exists or ``seconds`` have passed, then run the block.

    The block runs either way; code that needs the file then fails on opening it with an
    error naming the path.
    """
    deadline = time.monotonic() + seconds
    delay = 0.005
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, 0.1)
    yield


@contextmanager
def time_limited_open(path: str, mode: str, seconds: float = 1) -> Iterator[IO[Any]]:
    """Open ``path`` once it exists, waiting at most ``seconds`` for it to appear.

    For files another process (a worker, a batch job) is about to write; raises
    FileNotFoundError naming the path and the wait if it never appears.
    """
    with wait_for_file(path, seconds):
        pass
    try:
        handle = open(path, mode)
    except FileNotFoundError as e:
        raise FileNotFoundError(e.errno, f"{path} did not appear within {seconds} s",
                                path) from None
    with handle:
        yield handle


class RepresentationMixin:
    """A ``__repr__`` that reads like the constructor call: ``Foo(1, 'two', third=3)``.

    Constructor parameters are read back from attributes of the same name (an attribute
    that is missing shows as ``<unrecorded>``, or raises AttributeError when the class sets
    ``_validate_repr``). Keyword arguments are sorted; a representation longer than
    ``__max_width__`` puts one argument per line.
    """

    __max_width__ = 80
    _validate_repr = False

    def __repr__(self) -> str:
        init = inspect.unwrap(type(self).__init__)
        try:
            spec = inspect.getfullargspec(init)
        except TypeError:
            return object.__repr__(self)
        names = spec.args[1:]
        with_defaults = len(spec.defaults or ())
        positional = names[:len(names) - with_defaults]
        keywords = names[len(names) - with_defaults:] + list(spec.kwonlyargs)
        if self._validate_repr:
            for name in names + list(spec.kwonlyargs):
                if not hasattr(self, name):
                    raise AttributeError(
                        f"class {type(self).__name__} uses {name} in the constructor, but "
                        "does not define it as an attribute")
        missing = "<unrecorded>"
        args = [getattr(self, name, missing) for name in positional]
        kwargs: Dict[str, Any] = {name: getattr(self, name, missing) for name in keywords}
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in sorted(kwargs.items())]
        line = f"{type(self).__name__}({', '.join(parts)})"
        if len(line) <= self.__max_width__:
            return line
        body = ",".join("\n    " + part.replace("\n", "\n    ") for part in parts)
        return f"{type(self).__name__}({body}\n)"


class AtomicIDCounter:
    """Hands out 0, 1, 2, ... to any number of threads without duplicates."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def get_id(self) -> int:
        return next(self._counter)


def setproctitle(title: str) -> None:
    """Set the process title shown by ps/top, if the setproctitle package is installed."""
    import importlib

    try:
        module = importlib.import_module("setproctitle")
    except ImportError:
        logger.debug("setproctitle is not installed; process title stays unchanged")
        return
    module.setproctitle(title)


def sanitize_dns_label_rfc1123(raw_string: str) -> str:
    """``raw_string`` as an RFC 1123 DNS label: lower case letters, digits and single
    dashes, at most 63 characters, no dash at either end. ValueError if nothing is left."""
    label = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", raw_string.lower()))
    label = label[:63].strip("-")
    if not label:
        raise ValueError(f"Sanitized DNS label is empty for input {raw_string!r}")
    return label


def sanitize_dns_subdomain_rfc1123(raw_string: str) -> str:
    """``raw_string`` as an RFC 1123 subdomain: dot-separated sanitized labels, at most
    253 characters. ValueError if nothing is left."""
    labels = [sanitize_dns_label_rfc1123(part) for part in raw_string.split(".") if part]
    name = ".".join(labels)[:253].strip(".-")
    if not name:
        raise ValueError(f"Sanitized DNS subdomain is empty for input {raw_string!r}")
    return name


class AutoCancelTimer(threading.Timer):
    """A ``threading.Timer`` as a context manager: started on entry, cancelled on exit,
    so the callback only fires if the block outlives the delay."""

    def __enter__(self) -> AutoCancelTimer:
        self.start()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc_val: Optional[BaseException], exc_tb: Optional[TracebackType]) -> None:
        self.cancel()


class Timer:
    """Calls ``callback(*args)`` every ``interval`` seconds on a daemon thread until closed.

    Calls are due at fixed times (``interval``, ``2 * interval``, ... after the start), so
    the schedule does not drift by the callbacks' run time; a call that overruns skips
    the times it missed rather than piling up calls. An exception in the callback is
    logged and the timer keeps running: a periodic checkpoint that fails once should be
    tried again.
    """

    def __init__(self, callback: Callable[..., Any], *args: Any, interval: float = 5,
                 name: Optional[str] = None) -> None:
        if interval <= 0:
            raise ValueError(f"Timer interval must be > 0 seconds, got {interval!r}")
        self.callback = callback
        self.args = args
        self.interval = interval
        self.name = name or getattr(callback, "__name__", "timer")
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._next_due = self._start + interval
        self._thread = threading.Thread(target=self._run, name=f"Timer-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(max(0.0, self._next_due - time.monotonic())):
            self._call()

    def _call(self) -> None:
        try:
            self.callback(*self.args)
        except Exception:
            logger.exception("Timer %s: callback raised; will call it again in %s s",
                             self.name, self.interval)
        missed = int((time.monotonic() - self._start) // self.interval)
        self._next_due = self._start + (missed + 1) * self.interval

    def close(self, timeout: float = 10.0, run_due: bool = False) -> None:
        """Stop the timer and wait (at most ``timeout`` seconds) for a running call to end.

        With ``run_due``, a call that fell due while the timer was being stopped (its
        thread had not woken for it yet) is made here, so it is not lost.
        """
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("Timer %s did not stop within %s s", self.name, timeout)
            elif run_due and time.monotonic() >= self._next_due:
                self._call()

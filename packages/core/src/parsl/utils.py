"""Helpers that Parsl exposes as ``parsl.utils``: finding checkpoints, std stream modes, timers."""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, List, Optional, Tuple, Union

logger = logging.getLogger(__name__)

__all__ = ["Timer", "get_all_checkpoints", "get_last_checkpoint", "get_std_fname_mode"]


def _run_dirs_with_checkpoints(rundir: str) -> List[str]:
    if not os.path.isdir(rundir):
        return []
    found = []
    for name in sorted(os.listdir(rundir)):
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

    Empty when no run under ``rundir`` wrote a checkpoint. Only the last run's results are
    reused: when that run was itself restarted from earlier checkpoints, the results it
    reused are not in its own checkpoint, so prefer :func:`get_all_checkpoints` then.
    """
    checkpoints = _run_dirs_with_checkpoints(rundir)
    return checkpoints[-1:]


def get_std_fname_mode(fdname: str,
                       stdfspec: Union[str, Tuple[str, str]]) -> Tuple[str, str]:
    """Split a ``stdout``/``stderr`` app argument into (path, open mode).

    A plain path opens in append mode (``"a+"``); a ``(path, mode)`` tuple picks the mode,
    which must be ``"w"``, ``"a"``, ``"w+"`` or ``"a+"``.
    """
    import parsl.app.errors as pe

    if isinstance(stdfspec, str):
        return stdfspec, "a+"
    if isinstance(stdfspec, tuple) and len(stdfspec) == 2:
        fname, mode = stdfspec
        if isinstance(fname, str) and mode in ("w", "a", "w+", "a+"):
            return fname, mode
    raise pe.BadStdStreamFile(
        f"{fdname} must be a path or a (path, mode) tuple with mode one of 'w', 'a', "
        f"'w+', 'a+'; got {stdfspec!r}")


class Timer:
    """Calls ``callback(*args)`` every ``interval`` seconds on a daemon thread until closed.

    The interval is measured from the end of one call to the start of the next, so a slow
    callback never piles up overlapping calls. An exception in the callback is logged and
    the timer keeps running: a periodic checkpoint that fails once should be tried again.
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
        self._thread = threading.Thread(target=self._run, name=f"Timer-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.callback(*self.args)
            except Exception:
                logger.exception("Timer %s: callback raised; will call it again in %s s",
                                 self.name, self.interval)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the timer and wait (at most ``timeout`` seconds) for a running call to end."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("Timer %s did not stop within %s s", self.name, timeout)


class RepresentationMixin:
    """``repr()`` from the constructor's parameters: ``Name(a=1, b='x')``.

    Each parameter of ``__init__`` is read from the attribute of the same name. Parsl's
    own components inherit this class, and third-party plugins written for Parsl (staging
    providers in particular) import it from ``parsl.utils``, so it stays here. With
    ``_validate_repr`` set (Parsl's test suite sets it), a parameter that is not stored
    under its own name raises AttributeError instead of being left out.
    """

    _validate_repr: bool = False

    def __repr__(self) -> str:
        import inspect

        try:
            parameters = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        except (TypeError, ValueError):
            return object.__repr__(self)
        shown = []
        for parameter in parameters:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if hasattr(self, parameter.name):
                shown.append(f"{parameter.name}={getattr(self, parameter.name)!r}")
            elif self._validate_repr:
                raise AttributeError(
                    f"{type(self).__name__}: __init__ parameter {parameter.name!r} is not "
                    "stored as an attribute of that name, so repr() cannot show it")
        return f"{type(self).__name__}({', '.join(shown)})"

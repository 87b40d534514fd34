"""The LogConfig interface and per-process reference counting of initializations."""
from __future__ import annotations

import abc
import logging
import pathlib
import threading
import uuid
from typing import Callable, Dict, Iterator, List, Tuple

logger = logging.getLogger(__name__)

#: Loggers whose records Parsl's file logs collect: core and first-party plugins
#: (a third-party plugin should log under ``parsl.``), plus concurrent.futures, which
#: reports exceptions escaping future callbacks.
PARSL_LOGGER_ROOTS: Tuple[str, ...] = (
    "parsl", "parsl_htex", "parsl_hpc", "parsl_cloud", "parsl_staging", "parsl_monitoring",
    "parsl_taskvine", "concurrent.futures")


class LogConfig(abc.ABC):
    """A policy for setting up logging in one Parsl process.

    ``initialize_logging`` is called once per process that uses the policy (the DFK's
    process with ``log_name="parsl"``, an HTEX interchange with ``"interchange"``, a
    manager with ``"manager"``, a worker with ``"worker_N"``), with the folder that
    process's logs belong in. It returns a callable that undoes what it did. Instances are
    pickled to reach other processes, so keep them to plain picklable attributes; the
    ``uuid`` attribute identifies one configuration across those copies.
    """

    def __init__(self) -> None:
        self.uuid = uuid.uuid4()

    @abc.abstractmethod
    def initialize_logging(self, *, log_dir: pathlib.Path,
                           log_name: str) -> Callable[[], None]:
        """Set up logging for this process; return a callable that removes it again."""


def set_min_level(logger_: logging.Logger, level: int) -> None:
    """Lower ``logger_``'s level to ``level`` if it is unset or higher."""
    if logger_.level == logging.NOTSET or logger_.level > level:
        logger_.setLevel(level)


def parsl_loggers() -> Iterator[logging.Logger]:
    """The loggers named in :data:`PARSL_LOGGER_ROOTS`."""
    return (logging.getLogger(name) for name in PARSL_LOGGER_ROOTS)


class _Initialized:
    """One initialized configuration: its undo callable and how many users it has."""

    def __init__(self, uninit_callback: Callable[[], None]) -> None:
        self.uninit_callback = uninit_callback
        self.count = 1


#: Initialized configurations by uuid (named as in Parsl, whose tests inspect it).
_initialized_log_contexts: Dict[uuid.UUID, _Initialized] = {}
_lock = threading.Lock()


def oneshot_initialize_logging(*, log_config: LogConfig, log_dir: pathlib.Path,
                               log_name: str) -> None:
    """Initialize ``log_config`` in this process unless it already is; count the use.

    Several parts of one process may share a configuration (a DFK and an executor that
    runs tasks in the same process): the first call initializes it, later ones only
    add a reference, and :func:`oneshot_uninitialize_logging` undoes it when the last
    reference goes. The first call's ``log_dir`` and ``log_name`` win.
    """
    with _lock:
        entry = _initialized_log_contexts.get(log_config.uuid)
        if entry is not None:
            entry.count += 1
            return
        undo = log_config.initialize_logging(log_dir=log_dir, log_name=log_name)
        if not callable(undo):
            raise TypeError(f"{type(log_config).__name__}.initialize_logging returned "
                            f"{undo!r}; it must return a callable that undoes it")
        _initialized_log_contexts[log_config.uuid] = _Initialized(undo)
    logger.debug("Initialized log configuration %r as %s in %s", log_config, log_name, log_dir)


def oneshot_uninitialize_logging(*, log_config: LogConfig) -> None:
    """Drop one reference to ``log_config``; undo it when none remain."""
    with _lock:
        entry = _initialized_log_contexts.get(log_config.uuid)
        if entry is None:
            raise RuntimeError(f"log configuration {log_config!r} is not initialized in this "
                               "process (uninitialized more often than initialized?)")
        entry.count -= 1
        if entry.count > 0:
            return
        del _initialized_log_contexts[log_config.uuid]
    entry.uninit_callback()


#: Loggers whose level a log configuration lowered, by name: [level before the first
#: configuration lowered it, number of configurations still relying on it].
_level_claims: Dict[str, List[int]] = {}
_level_lock = threading.Lock()


def claim_level(logger_: logging.Logger, level: int) -> Callable[[], None]:
    """Lower ``logger_`` to ``level`` (see :func:`set_min_level`) for as long as needed.

    Returns the release callable. When the last claim on a logger is released, its level
    goes back to what it was before the first claim, so a run (``parsl.load`` ...
    ``dfk.cleanup()``) leaves the ``parsl`` logger's level as it found it; tests and
    applications that set levels themselves (e.g. pytest's ``caplog``) rely on that.
    """
    with _level_lock:
        entry = _level_claims.setdefault(logger_.name, [logger_.level, 0])
        entry[1] += 1
        set_min_level(logger_, level)
    released = False

    def release() -> None:
        nonlocal released
        with _level_lock:
            if released:
                return
            released = True
            entry = _level_claims[logger_.name]
            entry[1] -= 1
            if entry[1] == 0:
                del _level_claims[logger_.name]
                logger_.setLevel(entry[0])

    return release


#: Attribute set on the handlers a log configuration attaches.
PARSL_HANDLER_MARK = "_parsl_log_config_handler"


def add_handler(handler: logging.Handler, loggers: List[logging.Logger],
                level: int) -> Callable[[], None]:
    """Attach ``handler`` to ``loggers`` at ``level``; return the undo callable, which
    also gives the loggers back the levels they had (see :func:`claim_level`)."""
    handler.setLevel(level)
    # Marks a handler of the run's own logging (JSONLogging's is on the root logger), so
    # it does not count as someone outside parsl.log listening (parsl_records).
    setattr(handler, PARSL_HANDLER_MARK, True)
    releases = []
    for target in loggers:
        releases.append(claim_level(target, level))
        target.addHandler(handler)

    def undo() -> None:
        for target in loggers:
            target.removeHandler(handler)
        handler.close()
        for release in releases:
            release()

    return undo

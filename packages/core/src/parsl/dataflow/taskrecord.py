"""The per-task bookkeeping record.

A slotted class rather than a dict: a run holds one per live task, and with 100,000 tasks
waiting on one future the record's size is most of the memory a task costs. It still
supports ``record["id"]`` style access because Parsl exposes task records as dicts.
"""
from __future__ import annotations

from concurrent.futures import Future
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

from parsl.dataflow.states import States

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.futures import AppFuture


class _SharedEmptyDict(Dict[str, Any]):
    """An empty dict shared by many tasks, and therefore read-only.

    A task called without keyword arguments, or without a resource specification, gets
    this instead of a new dict of its own: one object fewer per task for the garbage
    collector to count. Mutating it raises; copies and pickles are plain dicts.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("this empty dict is shared by every task that was given none "
                        "and is read-only; assign a new dict instead")

    __setitem__ = __delitem__ = _read_only
    update = setdefault = pop = popitem = clear = __ior__ = _read_only

    def __reduce__(self) -> Tuple[Any, ...]:
        return (dict, ())


#: The ``kwargs`` and ``resource_specification`` of a task that was given none.
EMPTY_DICT: Dict[str, Any] = _SharedEmptyDict()


class TryRecord(NamedTuple):
    """One attempt at running a task."""

    try_id: int
    executor: str
    time_launched: float
    time_returned: float
    exception: Optional[BaseException]


class TaskRecord:
    """One task's state. ``depends`` and ``fail_history`` are created on first use: most
    tasks have neither, and every list a live task holds is one more object the garbage
    collector walks on each full collection (see docs/architecture.md)."""

    __slots__ = (
        "_depends",
        "_fail_history",
        "app_fu",
        "app_kind",
        "args",
        "checkpoint",
        "dfk",
        "exec_fu",
        "executor",
        "fail_cost",
        "fail_count",
        "fn_hash",
        "from_memo",
        "func",
        "func_name",
        "hashsum",
        "id",
        "ignore_for_cache",
        "join",
        "joins",
        "kwargs",
        "memoize",
        "pending_deps",
        "resource_specification",
        "status",
        "time_invoked",
        "time_returned",
        "try_history",
        "try_id",
        "try_time_launched",
        "try_time_returned",
    )

    def __init__(self, dfk: DataFlowKernel, task_id: int, func: Callable[..., Any],
                 func_name: str, args: Sequence[Any], kwargs: Dict[str, Any],
                 executor: str, memoize: bool, ignore_for_cache: Sequence[str],
                 join: bool, resource_specification: Dict[str, Any], time_invoked: float,
                 app_kind: str) -> None:
        self.dfk = dfk
        self.id = task_id
        self.func = func
        self.func_name = func_name
        self.args = args
        self.kwargs = kwargs
        self.status = States.unsched
        self._depends: Optional[List[Future[Any]]] = None
        self.app_fu: Optional[AppFuture] = None
        self.exec_fu: Optional[Future[Any]] = None
        self.executor = executor
        self.fail_count = 0
        self.fail_cost = 0.0
        self._fail_history: Optional[List[str]] = None
        self.try_history: Optional[List[TryRecord]] = None
        self.checkpoint = False
        self.hashsum: Optional[str] = None
        self.fn_hash: Optional[str] = None
        self.time_invoked = time_invoked
        self.time_returned: Optional[float] = None
        self.try_time_launched: Optional[float] = None
        self.try_time_returned: Optional[float] = None
        self.memoize = memoize
        self.ignore_for_cache = ignore_for_cache
        self.from_memo: Optional[bool] = None
        self.try_id = 0
        self.resource_specification = resource_specification
        self.join = join
        self.joins: Any = None
        self.pending_deps = 0
        self.app_kind = app_kind

    @property
    def depends(self) -> List[Future[Any]]:
        """The futures this task waited for (empty when it had none)."""
        depends = self._depends
        if depends is None:
            depends = self._depends = []
        return depends

    @depends.setter
    def depends(self, value: List[Future[Any]]) -> None:
        self._depends = value

    @property
    def has_depends(self) -> bool:
        return bool(self._depends)

    @property
    def fail_history(self) -> List[str]:
        """``repr`` of each failed try's exception, oldest first."""
        history = self._fail_history
        if history is None:
            history = self._fail_history = []
        return history

    @fail_history.setter
    def fail_history(self, value: List[str]) -> None:
        self._fail_history = value

    def _on_dependency_done(self, future: Future[Any]) -> None:
        # A bound method costs less memory than a functools.partial per dependency edge.
        self.dfk._dependency_done(self)

    def _on_exec_done(self, future: Future[Any]) -> None:
        self.dfk._handle_exec_update(self, future)

    #: The record is itself the done callback of its executor future: a bound method
    #: would be one more garbage-collected object allocated per try.
    __call__ = _on_exec_done

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in _KEYS:
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in _KEYS

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default) if key in _KEYS else default

    def keys(self) -> Sequence[str]:
        return _KEYS

    def __repr__(self) -> str:
        return f"<TaskRecord id={self.id} app={self.func_name!r} status={self.status.name}>"


_KEYS: Tuple[str, ...] = tuple(sorted(
    [name for name in TaskRecord.__slots__ if not name.startswith("_")]
    + ["depends", "fail_history"]))

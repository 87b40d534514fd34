"""The per-task bookkeeping record.

A slotted class rather than a dict: a run holds one per live task, and with 100,000 tasks
waiting on one future the record's size is most of the memory a task costs. It still
supports ``record["id"]`` style access because Parsl exposes task records as dicts.
"""
from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Sequence

from parsl.dataflow.states import States

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.futures import AppFuture


class TryRecord(NamedTuple):
    """One attempt at running a task."""

    try_id: int
    executor: str
    time_launched: float
    time_returned: float
    exception: Optional[BaseException]


class TaskRecord:
    __slots__ = (
        "app_fu",
        "app_kind",
        "args",
        "checkpoint",
        "depends",
        "dfk",
        "exec_fu",
        "executor",
        "fail_cost",
        "fail_count",
        "fail_history",
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
        self.depends: List[Future[Any]] = []
        self.app_fu: Optional[AppFuture] = None
        self.exec_fu: Optional[Future[Any]] = None
        self.executor = executor
        self.fail_count = 0
        self.fail_cost = 0.0
        self.fail_history: List[str] = []
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

    def _on_dependency_done(self, future: Future[Any]) -> None:
        # A bound method costs less memory than a functools.partial per dependency edge.
        self.dfk._dependency_done(self)

    def _on_exec_done(self, future: Future[Any]) -> None:
        self.dfk._handle_exec_update(self, future)

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__slots__:
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self.__slots__

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def keys(self) -> Sequence[str]:
        return self.__slots__

    def __repr__(self) -> str:
        return f"<TaskRecord id={self.id} app={self.func_name!r} status={self.status.name}>"

"""What TaskVineExecutor and WorkQueueExecutor share: the submit side of a cctools run.

``submit`` validates the resource specification, renames the task's files for the worker
sandbox (unless ``shared_fs``), pickles the task with cloudpickle and queues it for the
manager process (:mod:`parsl_taskvine._client`). Outcomes come back on the client's
receiver thread and complete the futures: an app's exception is re-raised with its
type, message and remote traceback; a task cctools could not run fails with the
executor's task-failure exception, whose message says what happened and on which worker.

Workers come from a provider (blocks launched through :class:`BlockProviderExecutor`,
running ``vine_worker``/``work_queue_worker --single-shot`` against this manager), or,
for TaskVine, from a ``vine_factory`` the manager process runs.
"""
from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import types
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from parsl.app.errors import RemoteExceptionWrapper
from parsl.dataflow.leanfuture import LeanFuture
from parsl.executors.base import submitting_task
from parsl.executors.errors import InvalidResourceSpecification
from parsl.executors.status_handling import BlockProviderExecutor, OutstandingCount
from parsl.providers.base import ExecutionProvider
from parsl.serialize.errors import SerializationError
from parsl_taskvine import _cctools, _spec, _staging
from parsl_taskvine._client import ManagerProcess
from parsl_taskvine._spec import Outcome, TaskSpec

logger = logging.getLogger(__name__)

Number = Union[int, float]
_NUMERIC_KEYS = ("cores", "memory", "disk", "gpus", "priority", "running_time_min")


class CctoolsExecutor(BlockProviderExecutor):
    """Base of the two executors; subclasses say what their manager and workers are."""

    #: "taskvine" or "workqueue": which backend the manager process runs.
    _kind = ""
    #: Name used in messages ("TaskVine", "Work Queue").
    _system = ""

    def __init__(self, *, label: str, provider: Optional[ExecutionProvider],
                 shared_fs: bool, autocategory: bool) -> None:
        super().__init__(provider=provider, block_error_handler=True)
        self.label = label
        self.shared_fs = shared_fs
        self.autocategory = autocategory
        self._ids = itertools.count()
        self._manager: Optional[ManagerProcess] = None
        self._lock = threading.Lock()
        self._stopped = False
        self.worker_address: Optional[str] = None
        self.port_in_use: Optional[int] = None
        self._run_tag = ""
        #: Send plain functions as source code (WorkQueueExecutor's ``source``).
        self._send_source = False
        self._sources: Dict[Any, Optional[Tuple[str, str]]] = {}
        #: Set by a monitoring plugin before ``start()``: the token of the observer that
        #: regular tasks' runners report ``running``/``running_ended`` and resources to.
        self.worker_task_observer: Optional[str] = None

    # ------------------------------------------------------------------ subclass hooks

    def _manager_config(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _resource_fields(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        """TaskSpec fields for a parsl_resource_specification, or InvalidResourceSpecification."""
        raise NotImplementedError

    def _task_failure(self, reason: str, status: int) -> Exception:
        raise NotImplementedError

    def _manager_failure(self, reason: str) -> Exception:
        raise NotImplementedError

    def _worker_argv(self) -> List[str]:
        """The worker program and its options, before ``address port`` (provider launch)."""
        raise NotImplementedError

    def _task_mode(self, resource_specification: Dict[str, Any]) -> str:
        return "regular"

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _check_number(key: str, value: Any) -> Number:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise InvalidResourceSpecification(
                {key}, f"parsl_resource_specification[{key!r}] must be a number >= 0, "
                       f"got {value!r}")
        return value

    def _numeric_fields(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        return {k: self._check_number(k, spec[k]) for k in _NUMERIC_KEYS if k in spec}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the manager process (and the factory); raise if it cannot listen."""
        if self._manager is not None:
            return
        log_dir = os.path.abspath(self.executor_dir)
        os.makedirs(log_dir, exist_ok=True)
        config = self._manager_config()
        config.update(kind=self._kind, log_dir=log_dir, python="python3",
                      staging_dir=os.path.join(log_dir, "function_data"), label=self.label,
                      run_id=self.run_id, log_config=self.log_config,
                      task_observer=self.worker_task_observer)
        if config.get("staging_dir_override"):
            config["staging_dir"] = os.path.abspath(config["staging_dir_override"])
        manager = ManagerProcess(f"{self.label} {self._system}", config,
                                 self._complete, self._lost)
        self._run_tag = f"{os.getpid()}-{id(self):x}-{os.urandom(4).hex()}"
        manager.run_tag = self._run_tag
        try:
            self.port_in_use = manager.start(_cctools.child_environment(self._run_tag))
        except RuntimeError as e:
            raise self._manager_failure(str(e)) from None
        self._manager = manager
        atexit.register(self._stop_manager)
        logger.info("Executor %s: %s manager listening on %s:%s", self.label, self._system,
                    self.worker_address, self.port_in_use)

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        fields = self._resource_fields(resource_specification or {})
        mode = self._task_mode(resource_specification or {})
        if self.bad_state_is_set:
            raise self.executor_exception  # type: ignore[misc]
        manager = self._manager
        if manager is None or self._stopped:
            raise self._manager_failure(f"executor {self.label} is not running (call start() "
                                        "first, or it was shut down)")
        if fields.get("category") is None and self.autocategory:
            fields["category"] = getattr(func, "__name__", "parsl-default")
        inputs: List[Tuple[str, str]] = []
        outputs: List[Tuple[str, str]] = []
        if not self.shared_fs:
            args, kwargs, inputs, outputs = _staging.localize(args, kwargs)
        if self._send_source:
            payload = self._pack(self._source_of(func) or func, args, kwargs)
        else:
            payload = self._pack(func, args, kwargs)
        task_id = next(self._ids)
        ctx = submitting_task.get()
        if ctx is not None:
            fields["parsl_task_id"] = ctx.task_id
            fields["try_id"] = ctx.try_id
        spec = TaskSpec(task_id, mode, payload, tuple(inputs), tuple(outputs), **fields)
        future: Future[Any] = LeanFuture()
        future.parsl_executor_task_id = task_id  # type: ignore[attr-defined]
        self._tasks[task_id] = future
        manager.submit(spec)
        return future

    def _source_of(self, func: Callable[..., Any]) -> Optional[Tuple[str, str]]:
        """(name, source without decorators) of a plain function, or None to send it by value.

        Only functions whose meaning is their source qualify: no closure and no wrapper
        (a walltime or staging wrapper, a bash app's runner go by value). The worker
        executes the source in a fresh namespace, so, as in Parsl, the function must
        import what it uses inside its body. Cached per function.
        """
        try:
            return self._sources[func]
        except KeyError:
            pass
        except TypeError:  # unhashable callable
            return None
        import ast
        import inspect
        import textwrap

        found: Optional[Tuple[str, str]] = None
        if isinstance(func, types.FunctionType) and func.__closure__ is None \
                and not hasattr(func, "__wrapped__"):
            try:
                tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
                node = tree.body[0]
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                        and node.name == func.__name__:
                    node.decorator_list = []
                    found = (func.__name__, ast.unparse(node))
            except (OSError, TypeError, SyntaxError, IndexError) as e:
                logger.debug("Executor %s sends %s by value: no source (%s)", self.label,
                             func.__name__, e)
        self._sources[func] = found
        return found

    @staticmethod
    def _pack(func: Any, args: Any, kwargs: Dict[str, Any]) -> bytes:
        import cloudpickle

        try:
            return bytes(cloudpickle.dumps((func, args, kwargs)))
        except Exception as e:
            for what, obj in [("the function", func)] + \
                    [(f"positional argument {i}", a) for i, a in enumerate(args)] + \
                    [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]:
                try:
                    cloudpickle.dumps(obj)
                except Exception as piece_error:
                    raise SerializationError(what, type(obj).__qualname__, submitting_task.get(),
                                             f"{type(piece_error).__name__}: {piece_error}"
                                             ) from piece_error
            raise SerializationError("the task", "tuple", submitting_task.get(),
                                     f"{type(e).__name__}: {e}") from e

    def _complete(self, outcomes: List[Outcome]) -> None:
        import cloudpickle

        tasks = self._tasks
        for outcome in outcomes:
            future = tasks.pop(outcome.task_id, None)
            if future is None or future.done():
                continue
            if outcome.kind == _spec.FAILED:
                status = outcome.status[0] if outcome.status else -1
                future.set_exception(self._task_failure(outcome.data.decode(errors="replace"),
                                                        status))
                continue
            try:
                result = cloudpickle.loads(outcome.data)
            except Exception as e:
                future.set_exception(self._task_failure(
                    f"task {outcome.task_id}: cannot deserialize its outcome on the submit "
                    f"host: {type(e).__name__}: {e}", -1))
                continue
            if result[0] == "ok":
                future.set_result(result[1])
            elif result[0] == "error":
                exc = result[1]
                future.set_exception(RemoteExceptionWrapper(type(exc), exc,
                                                             result[2]).get_exception())
            else:
                future.set_exception(self._task_failure(
                    f"task {outcome.task_id}: {result[2]}\n{result[3]}".rstrip(), -1))

    def _lost(self, reason: str) -> None:
        self.set_bad_state_and_fail_all(self._manager_failure(reason))

    def _stop_manager(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        manager = self._manager
        if manager is not None:
            manager.stop()
        self._fail_all_outstanding(self._manager_failure(
            f"executor {self.label} was shut down before the task finished"))

    def shutdown(self, block: bool = False) -> None:
        """Stop the manager process, its factory and workers, then cancel provider blocks.

        Bounded: the manager process gets a few seconds before it and its factory's
        process group are killed; tasks still pending fail with the reason.
        """
        logger.info("Executor %s shutting down", self.label)
        self._stop_manager()
        try:
            atexit.unregister(self._stop_manager)
        except Exception:
            logger.debug("Executor %s: atexit handler already gone", self.label)
        super().shutdown(block=block)
        if self._run_tag:
            killed = _cctools.kill_tagged(self._run_tag)
            if killed:
                logger.info("Executor %s killed %d leftover worker or task processes",
                            self.label, killed)

    # ------------------------------------------------------------------ blocks

    @property
    def outstanding(self) -> int:
        return OutstandingCount(len(self._tasks))

    @property
    def workers_per_node(self) -> Union[int, float]:
        return 1

    def _get_launch_command(self, block_id: str) -> str:
        if self.port_in_use is None or self.worker_address is None:
            raise self._manager_failure(f"executor {self.label} must be started before "
                                        "blocks are launched")
        import shlex

        argv = [*self._worker_argv(), "--single-shot", self.worker_address, str(self.port_in_use)]
        env = _cctools.child_environment(self._run_tag)
        prefix = (f"{_cctools.RUN_TAG}={shlex.quote(self._run_tag)} "
                  f"PATH={shlex.quote(env['PATH'])}")
        if env.get("PYTHONPATH"):
            prefix += f" PYTHONPATH={shlex.quote(env['PYTHONPATH'])}"
        return f"{prefix} " + " ".join(shlex.quote(a) for a in argv)

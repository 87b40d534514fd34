"""The manager process: owns one TaskVine or Work Queue manager, and the factory.

Why a process: cctools' Python bindings hold the GIL while ``wait`` blocks in C, so a
manager thread would stall the user's whole program for up to a second at a time. The
process talks to the submit side over one socket pair (``multiprocessing.connection``
framing; batches of :class:`~parsl_taskvine._spec.TaskSpec` in, batches of
:class:`~parsl_taskvine._spec.Outcome` out).

It never outlives its purpose: it exits when told to stop, when the submit side's end of
the socket closes (the user's program ended or was killed), or on SIGTERM; each way it
cancels its tasks, stops the factory and its workers (SIGTERM, then SIGKILL of the
factory's process group after a bounded wait) and closes the manager port, so workers
started with ``--single-shot`` exit too.

Run as ``python -m parsl_taskvine._manager FD``; the first message on FD is the config.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any, Deque, Dict, List, Optional, Tuple

from parsl.log_context import FLUSH_PERIOD, TASK_EVENTS, TaskEvents, set_process_context
from parsl_taskvine import _spec
from parsl_taskvine._spec import Outcome, TaskSpec

logger = logging.getLogger("parsl_taskvine.manager")
#: Text log lines as HTEX's processes write them, so ``parsl logs`` reads both alike.
LOG_FORMAT = ("%(asctime)s.%(msecs)03d %(name)s:%(lineno)d %(processName)s(%(process)d) "
              "%(threadName)s %(funcName)s [%(levelname)s] %(message)s")

#: Seconds the idle loop waits for submissions before letting cctools accept workers.
_IDLE_POLL = 2.0
#: Seconds given to the factory to remove its workers before its group is killed.
_FACTORY_GRACE = 3.0
LIBRARY_NAME = "parsl_library"
#: TaskVine allocation mode of each ``autolabel_algorithm`` Parsl documents.
AUTOLABEL_MODES = {"max-xput": "VINE_ALLOCATION_MODE_MAX_THROUGHPUT",
                   "bucketing": "VINE_ALLOCATION_MODE_EXHAUSTIVE_BUCKETING",
                   "max": "VINE_ALLOCATION_MODE_MAX"}
#: The runner travels with every regular task (cached on each worker) and runs as a
#: script: no ``-m`` (runpy costs tens of ms) and no need for parsl_taskvine on workers.
RUNNER_NAME = "parsl_taskvine_runner.py"
RUNNER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_runner.py")
#: Most Parsl tasks one serverless function call carries (see VineBackend.flush).
_MAX_CHUNK = 32
#: Limits the manager reports in a resource-exhaustion failure, in this order.
_LIMIT_FIELDS = ("cores", "memory", "disk", "gpus", "wall_time", "virtual_memory",
                 "swap_memory", "bytes_read", "bytes_written", "total_files",
                 "max_concurrent_processes", "total_processes")
_LIMIT_UNITS = {"memory": "MB", "disk": "MB", "virtual_memory": "MB", "swap_memory": "MB",
                "wall_time": "s"}


def _exceeded(limits: Any, requested: Any, measured: Any = None, allocated: Any = None) -> str:
    """Names the resources a task exceeded, with its limit: what it asked for, else the
    box cctools gave it.

    cctools marks the exceeded limits; when it did not, the resources measured above
    what was requested are named instead.
    """
    parts = []
    marked = [name for name in _LIMIT_FIELDS if limits is not None
              and (getattr(limits, name, -1) or -1) >= 0]
    if not marked and measured is not None and requested is not None:
        marked = [name for name in _LIMIT_FIELDS
                  if (getattr(requested, name, -1) or -1) >= 0
                  and (getattr(measured, name, -1) or -1) > getattr(requested, name)]
    for name in marked:
        unit = _LIMIT_UNITS.get(name, "")
        asked = getattr(requested, name, -1) if requested is not None else -1
        if (asked is None or asked < 0) and allocated is not None:
            asked = getattr(allocated, name, -1)
        text = f"{name}"
        if asked is not None and asked >= 0:
            text += f" (limit {asked:g}{' ' + unit if unit else ''})"
        parts.append(text)
    return ", ".join(parts) if parts else "a resource limit"


class _Backend:
    """What the loop needs from TaskVine or Work Queue."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.factory: Optional[subprocess.Popen[bytes]] = None
        #: cctools task id -> (our task id, cctools task object, result path)
        self.tasks: Dict[int, Tuple[int, Any, Optional[str]]] = {}
        #: our task id -> the log context ids of that task (DFK task id, try, ours).
        self.ids: Dict[int, Dict[str, Any]] = {}
        #: Per-task events (``cctools_submitted``, ``cctools_done``), when logged at all.
        self.events: Optional[TaskEvents] = (TaskEvents(logger)
                                             if logger.isEnabledFor(TASK_EVENTS) else None)
        os.makedirs(config["staging_dir"], exist_ok=True)

    def start(self) -> int:
        raise NotImplementedError

    def submit(self, spec: TaskSpec) -> None:
        raise NotImplementedError

    def wait(self, timeout: int) -> List[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def busy(self) -> bool:
        """Whether tasks are in flight, so the loop must keep calling ``wait``."""
        return bool(self.tasks)

    def observer_env(self, spec: TaskSpec) -> Dict[str, str]:
        """Environment telling a regular task's runner to report to monitoring, if on."""
        token = self.config.get("task_observer")
        if not token:
            return {}
        return {"PARSL_TASK_OBSERVER": token,
                "PARSL_TASK_IDS": f"{spec.task_id} {spec.parsl_task_id}"}

    def note_submitted(self, spec: TaskSpec) -> None:
        """Remember the task's log ids; record that cctools has it."""
        ids: Dict[str, Any] = {"executor_task_id": spec.task_id}
        if spec.parsl_task_id is not None:
            ids["task_id"] = spec.parsl_task_id
            ids["try_id"] = spec.try_id
        self.ids[spec.task_id] = ids
        if self.events is not None:
            self.events.add("cctools_submitted", spec.parsl_task_id,
                            executor_task_id=spec.task_id, try_id=spec.try_id)

    def note_done(self, outcomes: List[Outcome], worker: Any) -> None:
        """Record that cctools returned these tasks, and why those that failed did."""
        events = self.events
        for outcome in outcomes:
            ids = self.ids.pop(outcome.task_id, None) or {"executor_task_id": outcome.task_id}
            if worker:
                ids["worker_id"] = str(worker)
            failed = outcome.kind == _spec.FAILED
            if failed:
                logger.info("Task %s failed: %s", ids.get("task_id"),
                            outcome.data.decode(errors="replace"), extra=ids)
            if events is not None:
                events.add("cctools_done", ids.get("task_id"),
                           outcome="failed" if failed else "ok",
                           **{k: v for k, v in ids.items() if k != "task_id"})

    def flush(self) -> None:
        """Submit work held back by :meth:`submit` (TaskVine's batched function calls)."""

    def command(self, spec: TaskSpec) -> str:
        cmd = f"{self.config['python']} {RUNNER_NAME} function result"
        init = (self.config.get("init_command") or "").strip().rstrip(";").strip()
        return f"{init}; {cmd}" if init else cmd

    def result_path(self, spec: TaskSpec) -> str:
        return os.path.join(self.config["staging_dir"], f"result.{spec.task_id}")

    def finish_regular(self, task_id: int, result_path: Optional[str], ok: bool,
                       describe: str, status: Tuple[int, ...]) -> Outcome:
        data = b""
        if result_path is not None:
            try:
                with open(result_path, "rb") as f:
                    data = f.read()
            except OSError:
                data = b""
            try:
                os.unlink(result_path)
            except OSError:
                pass
        if ok and data:
            return Outcome(_spec.RESULT, task_id, data)
        if ok:
            describe = "the task ran but its result file did not come back from the worker"
        return Outcome(_spec.FAILED, task_id, describe.encode(), status)

    def start_factory(self, port: int) -> None:
        argv = self.config.get("factory_argv")
        if not argv:
            return
        argv = [*list(argv), self.config["worker_address"], str(port)]
        log = open(os.path.join(self.config["log_dir"], "factory.log"), "ab")
        logger.info("starting factory: %s", " ".join(argv))
        try:
            # ndcctools' Manager exports its port as TCP_LOW_PORT/TCP_HIGH_PORT; workers
            # inheriting them would try to bind their transfer server to the manager's port.
            env = {k: v for k, v in os.environ.items()
                   if k not in ("TCP_LOW_PORT", "TCP_HIGH_PORT")}
            self.factory = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, env=env,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            cwd=self.config["log_dir"])
        finally:
            log.close()

    def stop_factory(self) -> None:
        factory = self.factory
        if factory is None:
            return
        self.factory = None
        if factory.poll() is None:
            factory.terminate()
            try:
                factory.wait(_FACTORY_GRACE)
            except subprocess.TimeoutExpired:
                logger.warning("factory %s did not stop in %.0f s; killing it", factory.pid,
                               _FACTORY_GRACE)
        try:
            os.killpg(factory.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            factory.wait(_FACTORY_GRACE)
        except subprocess.TimeoutExpired:
            logger.error("factory %s survived SIGKILL", factory.pid)

    def set_resources(self, t: Any, spec: TaskSpec, prefix: str) -> None:
        for name in ("cores", "memory", "disk", "gpus"):
            value = getattr(spec, name)
            if value is not None:
                getattr(t, f"{prefix}{name}")(int(value) if name != "cores" else value)
        if spec.priority is not None:
            getattr(t, f"{prefix}priority")(spec.priority)


class VineBackend(_Backend):
    """A TaskVine manager; regular tasks and serverless function calls."""

    def start(self) -> int:
        from ndcctools import taskvine as vine

        self.vine = vine
        c = self.config
        m = vine.Manager(port=c["port"], name=c.get("project_name"),
                         run_info_path=c.get("vine_log_dir") or c["log_dir"],
                         run_info_template="vine-logs",
                         staging_path=c["staging_dir"])
        self.m = m
        if c.get("project_password_file"):
            m.set_password_file(c["project_password_file"])
        if c.get("enable_peer_transfers", True):
            m.enable_peer_transfers()
        else:
            m.disable_peer_transfers()
        # The resource monitor enforces memory and disk limits, but in this cctools
        # release a serverless library started under it exits at once: so an executor
        # whose default mode is serverless never monitors (unless autolabel), and one
        # whose default mode is regular refuses serverless tasks.
        self.regular_only = bool(c.get("autolabel") or not c.get("serverless_default"))
        # The monitor is turned on with the first task giving memory or disk (or at once
        # for autolabel), not before: cctools 7.17.1 sizes a task that asks for nothing
        # from its app's smallest sandbox seen so far (a 1 MB memory box once a task of
        # the same app left 1 MB in its sandbox), and the monitor would kill it for
        # exceeding that box. Runs that set no limits are thus never hit.
        self.monitoring = False
        if c.get("autolabel"):
            self._enable_monitoring()
        if c.get("autolabel") and c.get("autolabel_window") is not None:
            m.tune("category-steady-n-tasks", int(c["autolabel_window"]))
        if c.get("wait_for_workers"):
            m.tune("wait-for-workers", int(c["wait_for_workers"]))
        for key, value in (c.get("tune_parameters") or {}).items():
            m.tune(key, value)
        self.categories: set[str] = set()
        self.library_installed = False
        self.runner_file: Any = None
        #: Serverless tasks not yet in a function call, and the calls carrying several.
        self.pending_calls: Deque[TaskSpec] = deque()
        self.chunks: Dict[int, List[int]] = {}
        lc = c.get("library_config") or {}
        self.slots = int(lc.get("num_slots", 1))
        self.env_file = None
        if c.get("env_pack"):
            self.env_file = m.declare_poncho(c["env_pack"], cache=True)
        self.start_factory(m.port)
        return int(m.port)

    def _enable_monitoring(self) -> None:
        self.m.enable_monitoring()
        self.monitoring = True
        logger.info("resource monitor on: tasks exceeding their memory or disk are stopped")

    def _install_library(self) -> None:
        from parsl_taskvine._runner import (
            run_parsl_task,
            run_parsl_task_observed,
            run_parsl_tasks,
            run_parsl_tasks_observed,
        )

        lc = self.config.get("library_config") or {}
        lib = self.m.create_library_from_functions(
            LIBRARY_NAME, run_parsl_task, run_parsl_tasks, run_parsl_task_observed,
            run_parsl_tasks_observed, add_env=False,
            exec_mode=lc.get("exec_mode", "direct"),
            init_command=self.config.get("library_init"))
        lib.set_function_slots(int(lc.get("num_slots", 1)))
        for name in ("cores", "memory", "disk", "gpus"):
            if lc.get(name) is not None:
                getattr(lib, f"set_{name}")(lc[name])
        for key, value in (self.config.get("env_vars") or {}).items():
            lib.set_env_var(key, value)
        if self.config.get("task_observer"):
            lib.set_env_var("PARSL_TASK_OBSERVER", self.config["task_observer"])
        if self.env_file is not None:
            lib.add_environment(self.env_file)
        self.m.install_library(lib)
        self.library_installed = True
        logger.info("installed library %s (%s)", LIBRARY_NAME, lc)

    def _category(self, t: Any, spec: TaskSpec) -> None:
        if spec.category is None:
            return
        t.set_category(spec.category)
        if self.config.get("autolabel") and spec.category not in self.categories:
            self.categories.add(spec.category)
            mode = AUTOLABEL_MODES[self.config.get("autolabel_algorithm") or "max-xput"]
            self.m.set_category_mode(spec.category, getattr(self.vine.cvine, mode))

    def submit(self, spec: TaskSpec) -> None:
        vine = self.vine
        m = self.m
        result_path: Optional[str] = None
        if spec.mode == "serverless" and self.regular_only:
            raise ValueError(
                "serverless tasks need an executor whose function_exec_mode is 'serverless' "
                "and autolabel off: the resource monitor, on otherwise to enforce memory and "
                "disk limits, stops TaskVine libraries in this cctools release")
        if not self.monitoring and self.regular_only and (spec.memory is not None
                                                          or spec.disk is not None):
            self._enable_monitoring()
        if spec.mode == "serverless" and not spec.inputs and not spec.outputs:
            self.pending_calls.append(spec)
            return
        if spec.mode == "serverless":
            if not self.library_installed:
                self._install_library()
            if self.config.get("task_observer"):
                t = vine.FunctionCall(LIBRARY_NAME, "run_parsl_task_observed", spec.task_id,
                                      spec.parsl_task_id, spec.payload)
            else:
                t = vine.FunctionCall(LIBRARY_NAME, "run_parsl_task", spec.payload)
            if spec.priority is not None:
                t.set_priority(spec.priority)
        else:
            t = vine.Task(self.command(spec))
            if self.runner_file is None:
                self.runner_file = m.declare_file(RUNNER_PATH, cache=True)
            t.add_input(self.runner_file, RUNNER_NAME)
            t.add_input(m.declare_buffer(spec.payload, cache=False, peer_transfer=False),
                        "function")
            result_path = self.result_path(spec)
            t.add_output(m.declare_file(result_path, cache=False, peer_transfer=False),
                         "result")
            self.set_resources(t, spec, "set_")
            for key, value in (self.config.get("env_vars") or {}).items():
                t.set_env_var(key, value)
            for key, value in self.observer_env(spec).items():
                t.set_env_var(key, value)
            if self.env_file is not None:
                t.add_environment(self.env_file)
        for local, name in spec.inputs:
            t.add_input(m.declare_file(local, cache=self.config.get("cache_inputs", False)),
                        name)
        for local, name in spec.outputs:
            t.add_output(m.declare_file(local, cache=False, peer_transfer=False), name)
        if spec.running_time_min is not None:
            t.set_time_min(int(spec.running_time_min))
        if self.config.get("max_retries") is not None:
            t.set_retries(int(self.config["max_retries"]))
        self._category(t, spec)
        t.set_tag(str(spec.task_id))
        vine_id = m.submit(t)
        self.tasks[vine_id] = (spec.task_id, t, result_path)
        self.note_submitted(spec)

    def busy(self) -> bool:
        return bool(self.tasks or self.pending_calls)

    def flush(self) -> None:
        """Put held serverless tasks into function calls, several per call when many wait.

        A function call costs a few tens of milliseconds of TaskVine round trip whatever
        it runs, so a no-op task alone in a call caps throughput near 40 calls/s. Calls in
        flight are kept to twice the library slots of the connected workers; the tasks
        waiting beyond that are spread over the free calls (at most ``_MAX_CHUNK`` each),
        so a lone task still travels alone and a burst travels in a few calls.
        """
        if not self.pending_calls:
            return
        if not self.library_installed:
            self._install_library()
        workers = max(1, int(self.m.stats.workers_connected))
        capacity = 2 * self.slots * workers
        while self.pending_calls and len(self.chunks) < capacity:
            free = capacity - len(self.chunks)
            size = min(_MAX_CHUNK, max(1, -(-len(self.pending_calls) // free)))
            chunk = [self.pending_calls.popleft() for _ in range(min(size,
                                                                     len(self.pending_calls)))]
            if self.config.get("task_observer"):
                t = self.vine.FunctionCall(
                    LIBRARY_NAME, "run_parsl_tasks_observed",
                    [(spec.task_id, spec.parsl_task_id, spec.payload) for spec in chunk])
            else:
                t = self.vine.FunctionCall(LIBRARY_NAME, "run_parsl_tasks",
                                           [spec.payload for spec in chunk])
            priorities = [spec.priority for spec in chunk if spec.priority is not None]
            if priorities:
                t.set_priority(max(priorities))
            if self.config.get("max_retries") is not None:
                t.set_retries(int(self.config["max_retries"]))
            t.set_tag(",".join(str(spec.task_id) for spec in chunk))
            vine_id = self.m.submit(t)
            self.tasks[vine_id] = (chunk[0].task_id, t, None)
            self.chunks[vine_id] = [spec.task_id for spec in chunk]
            for spec in chunk:
                self.note_submitted(spec)

    def _finish_chunk(self, task_ids: List[int], t: Any) -> List[Outcome]:
        if t.successful():
            output = t.output
            if isinstance(output, list) and len(output) == len(task_ids):
                return [Outcome(_spec.RESULT, task_id, data)
                        for task_id, data in zip(task_ids, output)]
            text = (f"the TaskVine library could not run the function call carrying tasks "
                    f"{task_ids}: {output!r} (worker: {t.hostname or t.addrport})")
            status: Tuple[int, ...] = (-1,)
        else:
            text, status = self._describe(task_ids[0], t)
            text = text.replace(f"task {task_ids[0]}",
                                f"the function call carrying tasks {task_ids}", 1)
        return [Outcome(_spec.FAILED, task_id, text.encode(), status) for task_id in task_ids]

    def _describe(self, task_id: int, t: Any) -> Tuple[str, Tuple[int, ...]]:
        result = t.result
        where = t.hostname or t.addrport or "no worker"
        code = self.vine.cvine.vine_task_get_result(t._task)
        if result == "resource exhaustion":
            what = _exceeded(t.limits_exceeded, t.resources_requested, t.resources_measured,
                             t.resources_allocated)
            text = (f"task {task_id} exceeded its {what} on worker {where} and was stopped "
                    f"(TaskVine result: {result})")
        elif result == "success":
            text = (f"task {task_id} exited with code {t.exit_code} on worker {where}; "
                    f"output: {(t.std_output or '')[-2000:].strip()!r}")
            code = t.exit_code
        else:
            text = f"task {task_id} failed on TaskVine: {result} (last worker: {where})"
        return text, (code,)

    def wait(self, timeout: int) -> List[Outcome]:
        done: List[Outcome] = []
        t = self.m.wait(timeout)
        while t is not None:
            entry = self.tasks.pop(t.id, None)
            chunk = self.chunks.pop(t.id, None)
            if chunk is not None:
                finished = self._finish_chunk(chunk, t)
            elif entry is not None:
                finished = [self._finish(entry[0], t, entry[2])]
            else:
                finished = []
            self.note_done(finished, t.addrport)
            done.extend(finished)
            t = self.m.wait(0)
        return done

    def _finish(self, task_id: int, t: Any, result_path: Optional[str]) -> Outcome:
        if result_path is None:  # serverless
            if t.successful():
                output = t.output
                if isinstance(output, bytes):
                    return Outcome(_spec.RESULT, task_id, output)
                text = (f"task {task_id}: the TaskVine library could not run the function: "
                        f"{output!r} (worker: {t.hostname or t.addrport})")
                return Outcome(_spec.FAILED, task_id, text.encode(), (-1,))
            text, status = self._describe(task_id, t)
            return Outcome(_spec.FAILED, task_id, text.encode(), status)
        ok = t.successful()
        text, status = ("", ()) if ok else self._describe(task_id, t)
        return self.finish_regular(task_id, result_path, ok, text, status)

    def close(self) -> None:
        m = getattr(self, "m", None)
        if m is not None and self.tasks:
            # Cancelling makes workers kill the tasks' processes, which would otherwise
            # outlive workers stopped (or killed) with the factory.
            try:
                m.cancel_all()
                m.wait(1)
            except Exception:
                logger.exception("could not cancel the remaining tasks")
        self.stop_factory()
        tag = os.environ.get("PARSL_TASKVINE_RUN_TAG")
        if tag:
            from parsl_taskvine._cctools import kill_tagged

            killed = kill_tagged(tag)
            if killed:
                logger.info("killed %d leftover worker or task processes", killed)
        if m is not None:
            self.tasks.clear()
            self.chunks.clear()
            self.pending_calls.clear()
            self.m = None
            del m


class WorkQueueBackend(_Backend):
    """A Work Queue manager; every task runs the regular runner."""

    def start(self) -> int:
        from ndcctools import work_queue as wq

        self.wq = wq
        c = self.config
        debug_log = os.path.join(c["log_dir"], "wq_debug.log") if c.get("full_debug") else None
        q = wq.WorkQueue(port=c["port"], name=c.get("project_name"),
                         transactions_log=os.path.join(c["log_dir"], "transaction_log"),
                         stats_log=os.path.join(c["log_dir"], "stats_log"),
                         debug_log=debug_log)
        self.q = q
        if c.get("project_password_file"):
            q.specify_password_file(c["project_password_file"])
        self.monitoring = False
        if c.get("autolabel"):
            self._enable_monitoring()
            if c.get("autolabel_window") is not None:
                q.tune("category-steady-n-tasks", int(c["autolabel_window"]))
        else:
            # Work Queue sizes a task's box as the larger of what it asked for and the same
            # share of the worker as its largest request (1 core of a 2-core worker: half
            # the worker's memory), and the resource monitor enforces the box, not the
            # request. Without autolabel a task gives cores, memory and disk together, so
            # the box is exactly what it asked for.
            q.tune("proportional-resources", 0)
        self.categories: set[str] = set()
        return int(q.port)

    def _enable_monitoring(self) -> None:
        """Wrap tasks in cctools' resource monitor, which stops one exceeding its limits.

        It costs a monitor process and a summary file per task, so it is turned on when
        the first task with a memory or disk limit arrives (or with autolabel, which needs
        the measurements); Work Queue wraps each task when it starts, so this is in time.
        """
        self.q.enable_monitoring(watchdog=True)
        self.monitoring = True
        logger.info("resource monitor on: tasks exceeding their memory or disk are stopped")

    def submit(self, spec: TaskSpec) -> None:
        wq = self.wq
        q = self.q
        if not self.monitoring and (spec.memory is not None or spec.disk is not None) \
                and not self.config.get("coprocess"):
            # (Work Queue does not monitor coprocess tasks, and fails them all with
            # MONITOR_ERROR once the monitor is on.)
            self._enable_monitoring()
        if self.config.get("coprocess"):
            t = wq.RemoteTask("run_parsl_task", "parsl_coprocess")
            t.specify_exec_method("direct")
        else:
            t = wq.Task(self.command(spec))
        # Work Queue's buffers are C strings, so the pickled task goes as a file.
        function_path = os.path.join(self.config["staging_dir"], f"function.{spec.task_id}")
        with open(function_path, "wb") as f:
            f.write(spec.payload)
        t.specify_input_file(function_path, "function", cache=False)
        t.specify_input_file(RUNNER_PATH, RUNNER_NAME, cache=True)
        result_path = self.result_path(spec)
        t.specify_output_file(result_path, "result", cache=False)
        cache = bool(self.config.get("cache_inputs", False))
        for local, name in spec.inputs:
            t.specify_input_file(local, name, cache=cache)
        for local, name in spec.outputs:
            t.specify_output_file(local, name, cache=False)
        self.set_resources(t, spec, "specify_")
        if spec.running_time_min is not None:
            t.specify_running_time_min(int(spec.running_time_min))
        if self.config.get("max_retries") is not None:
            t.specify_max_retries(int(self.config["max_retries"]))
        for key, value in (self.config.get("env_vars") or {}).items():
            t.specify_environment_variable(key, value)
        for key, value in self.observer_env(spec).items():
            t.specify_environment_variable(key, value)
        if spec.category is not None:
            t.specify_category(spec.category)
            if self.config.get("autolabel") and spec.category not in self.categories:
                self.categories.add(spec.category)
                q.specify_category_mode(spec.category,
                                        wq.WORK_QUEUE_ALLOCATION_MODE_MAX_THROUGHPUT)
        t.specify_tag(str(spec.task_id))
        wq_id = q.submit(t)
        self.tasks[wq_id] = (spec.task_id, t, result_path)
        self.note_submitted(spec)

    def wait(self, timeout: int) -> List[Outcome]:
        done: List[Outcome] = []
        t = self.q.wait(timeout)
        while t is not None:
            entry = self.tasks.pop(t.id, None)
            if entry is not None:
                finished = [self._finish(entry[0], t, entry[2])]
                self.note_done(finished, t.host)
                done.extend(finished)
            # Work Queue's wait(0) blocks for about a second when no result is ready (and
            # the next wait then misses a second too): drain only what is ready.
            t = self.q.wait(0) if self.q.stats.tasks_with_results > 0 else None
        return done

    def _finish(self, task_id: int, t: Any, result_path: Optional[str]) -> Outcome:
        wq = self.wq
        ok = t.result == wq.WORK_QUEUE_RESULT_SUCCESS and t.return_status == 0
        text = ""
        status: Tuple[int, ...] = ()
        if ok and self.config.get("coprocess") and (t.output or "").strip() != "ok":
            ok = False
            text = (f"task {task_id}: the Work Queue coprocess on worker "
                    f"{t.hostname or t.host} did not run it: "
                    f"{(t.output or 'no answer')[-2000:].strip()!r}")
            status = (-1,)
        elif not ok:
            where = t.hostname or t.host or "no worker"
            if t.result == wq.WORK_QUEUE_RESULT_RESOURCE_EXHAUSTION:
                what = _exceeded(t.limits_exceeded, t.resources_requested, None,
                                 t.resources_allocated)
                text = (f"task {task_id} exceeded its {what} on worker {where} and was "
                        f"stopped (Work Queue result: {t.result_str})")
                status = (t.result,)
            elif t.result == wq.WORK_QUEUE_RESULT_SUCCESS:
                text = (f"task {task_id} exited with code {t.return_status} on worker "
                        f"{where}; output: {(t.output or '')[-2000:].strip()!r}")
                status = (t.return_status,)
            else:
                text = (f"task {task_id} failed on Work Queue: {t.result_str} "
                        f"(last worker: {where})")
                status = (t.result,)
        try:
            os.unlink(os.path.join(self.config["staging_dir"], f"function.{task_id}"))
        except OSError:
            pass
        return self.finish_regular(task_id, result_path, ok, text, status)

    def close(self) -> None:
        q = getattr(self, "q", None)
        if q is not None:
            for wq_id, entry in list(self.tasks.items()):
                try:
                    q.cancel_by_taskid(wq_id)
                except Exception:
                    logger.exception("could not cancel Work Queue task %s", wq_id,
                                     extra=self.ids.get(entry[0]))
            self.tasks.clear()
            self.q = None
            del q


def _serve(conn: Connection, backend: _Backend) -> str:
    """Relay tasks and outcomes until told to stop; return why it stopped."""
    events = backend.events
    flushed = time.monotonic()
    while True:
        if events is not None and time.monotonic() - flushed >= FLUSH_PERIOD:
            events.flush()
            flushed = time.monotonic()
        busy = backend.busy()
        try:
            if conn.poll(0 if busy else _IDLE_POLL):
                while True:
                    message = conn.recv()
                    if message[0] == _spec.STOP:
                        return "asked to stop"
                    for spec in message[1]:
                        try:
                            backend.submit(spec)
                        except Exception as e:
                            ids = {"executor_task_id": spec.task_id,
                                   "task_id": spec.parsl_task_id, "try_id": spec.try_id}
                            logger.exception("could not submit task %s", spec.parsl_task_id,
                                             extra=ids)
                            text = (f"task {spec.task_id} could not be submitted to the "
                                    f"manager: {type(e).__name__}: {e}")
                            conn.send([Outcome(_spec.FAILED, spec.task_id, text.encode(),
                                               (-1,))])
                    if not conn.poll(0):
                        break
        except (EOFError, OSError):
            return "the submit side went away"
        backend.flush()
        done = backend.wait(1)
        if done:
            try:
                conn.send(done)
            except OSError:
                return "the submit side went away"


def _setup_logging(config: Dict[str, Any]) -> None:
    """The run's LogConfig (``manager.<ext>`` in the executor's folder) if it has one,
    else ``manager.log`` as text at INFO (DEBUG with ``debug``); and the process's ids."""
    set_process_context(run_id=config.get("run_id"), executor=config.get("label"))
    log_config = config.get("log_config")
    if log_config is not None:
        import pathlib

        from parsl.logconfigs.base import oneshot_initialize_logging

        oneshot_initialize_logging(log_config=log_config,
                                   log_dir=pathlib.Path(config["log_dir"]), log_name="manager")
        return
    from parsl.log_utils import DATE_FORMAT, ParslFormatter

    handler = logging.FileHandler(os.path.join(config["log_dir"], "manager.log"))
    handler.setFormatter(ParslFormatter(LOG_FORMAT, datefmt=DATE_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if config.get("debug") else logging.INFO)


def main(argv: List[str]) -> int:
    conn = Connection(int(argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    config: Dict[str, Any] = conn.recv()
    os.makedirs(config["log_dir"], exist_ok=True)
    _setup_logging(config)
    backend: _Backend = (VineBackend(config) if config["kind"] == "taskvine"
                         else WorkQueueBackend(config))
    why = "startup failed"
    try:
        try:
            port = backend.start()
        except BaseException as e:
            logger.exception("could not start the manager")
            conn.send((_spec.FATAL, f"{type(e).__name__}: {e}"))
            return 1
        logger.info("%s manager listening on port %s", config["kind"], port)
        conn.send((_spec.READY, port))
        if backend.factory is not None:
            conn.send((_spec.FACTORY, backend.factory.pid))
        why = _serve(conn, backend)
    except SystemExit as e:
        why = str(e)
    finally:
        started = time.monotonic()
        try:
            backend.close()
        finally:
            if backend.events is not None:
                backend.events.flush()
            logger.info("manager stopped (%s) in %.2f s", why, time.monotonic() - started)
            logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

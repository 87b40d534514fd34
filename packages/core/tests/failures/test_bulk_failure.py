"""An executor failing many outstanding tasks at once: the DFK handles them as one batch.

The executor here is a stand-in for HTEX losing its interchange: it keeps every try
outstanding until the test calls :func:`parsl.executors.base.fail_futures` on them, which
is exactly what HTEX does (``packages/htex/tests/test_fail_many.py`` provokes it for real
with a killed interchange). Everything else is the real DFK. The time taken is held by
``benchmarks/fail_outstanding.py``, not here.
"""
from __future__ import annotations

import concurrent.futures as cf
import gc
import logging
import threading
import traceback
from concurrent.futures import CancelledError, Future
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from polling import wait_for
from root_handlers import without_root_handlers

import parsl
from parsl.config import Config
from parsl.dataflow import leanfuture
from parsl.dataflow.dflow import DataFlowKernel
from parsl.dataflow.errors import DependencyError
from parsl.dataflow.leanfuture import LeanFuture
from parsl.dataflow.states import States
from parsl.errors import ParslError
from parsl.executors.base import ParslExecutor, fail_futures, submitting_task
from parsl.executors.threads import ThreadPoolExecutor
from parsl.plugins.hookspecs import hookimpl

MANY = 100_000


class ExecutorLost(ParslError):
    """The reason the stand-in executor fails its tasks (shaped like InterchangeLost)."""

    def __init__(self, label: str, detail: str) -> None:
        super().__init__(label, detail)
        self.label = label
        self.detail = detail

    def __str__(self) -> str:
        return f"executor {self.label!r} is gone: {self.detail}"


class HoldingExecutor(ParslExecutor):
    """Holds every first try outstanding; runs a retried try at once, in the caller."""

    def __init__(self, label: str = "holding") -> None:
        super().__init__()
        self.label = label
        self.outstanding: List[Future[Any]] = []

    def start(self) -> None:
        pass

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = LeanFuture()
        context = submitting_task.get()
        if context is not None and context.try_id > 0:
            future.set_result(func(*args, **kwargs))
        else:
            self.outstanding.append(future)
        return future

    def fail_all(self, detail: str) -> int:
        held, self.outstanding = self.outstanding, []
        return fail_futures(self.label, held, ExecutorLost(self.label, detail))


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@parsl.python_app
def double(x: int) -> int:
    return 2 * x


@parsl.python_app(cache=True)
def cached_double(x: int) -> int:
    return 2 * x


def _run(run_dir: str, tasks: int, dependents: int = 0, log_to: Optional[Collect] = None,
         **config: Any) -> Tuple[List[Any], List[Any], Dict[States, int], List[Any]]:
    """Submit ``tasks`` apps (and ``dependents`` apps each using one of them), fail every
    outstanding try in one batch (logging to ``log_to`` meanwhile); return the futures,
    the dependents' futures, the state counts and the task records, all taken before
    cleanup."""
    ex = HoldingExecutor()
    # Without pytest's root handlers, which would receive Parsl's per-task records
    # (parsl_records): hundreds of thousands of them for the large batches.
    with without_root_handlers(), \
            parsl.load(Config(executors=[ex], run_dir=run_dir, **config)) as dfk:
        futures = [double(i) for i in range(tasks)]
        later = [double(futures[i]) for i in range(dependents)]
        parsl_logger = logging.getLogger("parsl")
        if log_to is not None:
            parsl_logger.addHandler(log_to)
        try:
            ex.fail_all("test: failing everything")
        finally:
            if log_to is not None:
                parsl_logger.removeHandler(log_to)
        records = [f.task_record for f in futures + later]
        counts = dfk.task_state_counts
    return futures, later, counts, records


@pytest.fixture(scope="module")
def many_failed(tmp_path_factory) -> Iterator[Tuple[List[Any], Dict[States, int], List[Any]]]:
    """MANY tasks failed in one batch (shared by the tests that only read the outcome)."""
    futures, _, counts, records = _run(str(tmp_path_factory.mktemp("many") / "runinfo"), MANY)
    yield futures, counts, records


@pytest.mark.slow
def test_every_future_of_a_100000_task_batch_fails_with_the_reason(many_failed):
    futures, _, _ = many_failed
    assert all(isinstance(f.exception(timeout=0), ExecutorLost) for f in futures)


@pytest.mark.slow
def test_each_failed_future_has_an_exception_object_of_its_own(many_failed):
    futures, _, _ = many_failed
    assert len({id(f.exception(timeout=0)) for f in futures}) == MANY


@pytest.mark.slow
def test_every_traceback_stays_short_however_many_futures_are_read(many_failed):
    futures, _, _ = many_failed
    longest = 0
    for fut in futures:
        try:
            fut.result(timeout=0)
        except ExecutorLost as e:
            longest = max(longest, len(traceback.extract_tb(e.__traceback__)))
    assert longest <= 5, f"longest traceback {longest} frames"


@pytest.mark.slow
def test_task_state_counts_hold_every_failed_task(many_failed):
    _, counts, records = many_failed
    assert counts[States.failed] == MANY
    assert sum(counts.values()) == MANY
    assert all(r.status == States.failed for r in records)


@pytest.mark.slow
def test_each_failed_task_records_its_one_try(many_failed):
    _, _, records = many_failed
    assert all(r.fail_count == 1 and len(r.try_history) == 1 for r in records)
    assert records[0].fail_history == [repr(records[0].app_fu.exception(timeout=0))]


def test_tasks_with_retries_left_are_retried_not_failed(run_dir):
    futures, _, counts, records = _run(run_dir, 1000, retries=1)
    assert [f.result(timeout=10) for f in futures] == [2 * i for i in range(1000)]
    assert counts[States.exec_done] == 1000
    assert all(r.try_id == 1 and r.fail_count == 1 for r in records)


def test_only_tasks_the_retry_handler_leaves_budget_for_are_retried(run_dir):
    def cost(exception: BaseException, record: Any) -> float:
        return 1.0 if record.id % 2 == 0 else 5.0

    futures, _, counts, records = _run(run_dir, 1000, retries=1, retry_handler=cost)
    retried = [f for f, r in zip(futures, records) if r.id % 2 == 0]
    failed = [f for f, r in zip(futures, records) if r.id % 2 == 1]
    assert all(f.exception(timeout=0) is None for f in retried)
    assert all(isinstance(f.exception(timeout=0), ExecutorLost) for f in failed)
    assert counts[States.exec_done] == len(retried)
    assert counts[States.failed] == len(failed)


def test_dependents_of_bulk_failed_tasks_fail_with_dependency_error(run_dir):
    futures, later, counts, _ = _run(run_dir, 1000, dependents=500)
    errors = [f.exception(timeout=10) for f in later]
    assert all(isinstance(e, DependencyError) for e in errors)
    assert errors[7].dependent_exceptions_tids[0][1] == f"task {futures[7].tid}"
    assert counts[States.dep_fail] == 500
    assert counts[States.failed] == 1000


def test_a_batch_is_logged_once_at_info_with_its_counts(run_dir):
    collect = Collect()
    _run(run_dir, 1000, dependents=10, log_to=collect)
    assert [r.getMessage() for r in collect.records] == [
        "Executor holding failed 1000 outstanding tasks (1000 tasks failed, 0 retried, 10 "
        "dependent tasks failed): ExecutorLost: executor 'holding' is gone: test: failing "
        "everything"]


def test_each_task_of_a_batch_is_logged_at_debug_when_debug_is_on(run_dir):
    collect = Collect()
    futures, _, _, _ = _run(run_dir, 100, log_to=collect, log_level=logging.DEBUG)
    per_task = {r.task_id for r in collect.records  # type: ignore[attr-defined]
                if r.levelno == logging.DEBUG and "failed after 1 tries" in r.getMessage()}
    assert per_task == {f.tid for f in futures}


def test_state_change_hook_sees_every_task_of_a_batch_fail(run_dir):
    class Recorder:
        def __init__(self) -> None:
            self.failed: List[Tuple[int, States]] = []

        @hookimpl
        def parsl_task_state_change(self, dfk, task_record, old_state, new_state):
            assert task_record.status == new_state
            if new_state == States.failed:
                self.failed.append((task_record.id, old_state))

    recorder = Recorder()
    futures, _, _, _ = _run(run_dir, 1000, plugins=[recorder])
    assert sorted(recorder.failed) == [(f.tid, States.launched) for f in futures]


def test_a_raising_plugin_leaves_no_task_of_a_batch_unfinished(run_dir):
    class Raising:
        @hookimpl
        def parsl_task_try_finished(self, dfk, task_record, try_id, exception):
            if exception is not None:
                raise RuntimeError("plugin bug")

        @hookimpl
        def parsl_task_state_change(self, dfk, task_record, old_state, new_state):
            if new_state in (States.fail_retryable, States.failed):
                raise RuntimeError("plugin bug")

    def cost(exception: BaseException, record: Any) -> float:
        return 1.0 if record.id % 2 == 0 else 5.0

    futures, _, counts, _ = _run(run_dir, 100, retries=1, retry_handler=cost,
                                 plugins=[Raising()])
    assert all(f.done() for f in futures)
    assert counts[States.exec_done] == counts[States.failed] == 50


def test_memoized_task_failed_in_a_batch_is_replayed_like_one_failed_alone(run_dir):
    ex = HoldingExecutor()
    with parsl.load(Config(executors=[ex], run_dir=run_dir)):
        alone, batched = cached_double(1), cached_double(2)
        ex.outstanding.pop(0).set_exception(ExecutorLost("holding", "one task"))
        ex.fail_all("all the others")
        again_alone, again_batched = cached_double(1), cached_double(2)
        assert again_alone.exception(timeout=10) is alone.exception(timeout=0)
        assert again_batched.exception(timeout=10) is batched.exception(timeout=0)
        assert again_alone.task_record.status == again_batched.task_record.status \
            == States.memo_done


def test_garbage_collector_is_enabled_again_after_a_batch(run_dir):
    assert gc.isenabled()
    _run(run_dir, 10)
    assert gc.isenabled()


def test_garbage_collector_the_program_disabled_stays_disabled(run_dir):
    gc.disable()
    try:
        _run(run_dir, 10)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cleanup_fails_queued_thread_tasks_as_one_batch_logged_once(run_dir):
    release = threading.Event()

    @parsl.python_app
    def wait_for_release() -> None:
        release.wait(30)

    collect = Collect()
    dfk = parsl.load(Config(executors=[ThreadPoolExecutor(label="pool", max_threads=1)],
                            run_dir=run_dir))
    try:
        running = wait_for_release()
        queued = [double(i) for i in range(1000)]
        logging.getLogger("parsl").addHandler(collect)
        try:
            dfk.cleanup()
        finally:
            logging.getLogger("parsl").removeHandler(collect)
    finally:
        release.set()
    running.result(timeout=30)
    assert all(isinstance(f.exception(timeout=0), CancelledError) for f in queued)
    per_task = [r.getMessage() for r in collect.records
                if r.levelno >= logging.INFO and getattr(r, "task_id", None) is not None]
    assert per_task == []
    assert "ThreadPoolExecutor pool cancelled 1000 queued tasks at shutdown (1000 tasks " \
           "failed, 0 retried, 0 dependent tasks failed)" in \
           [r.getMessage() for r in collect.records]


# ---------------------------------------------------------------- what still runs and wakes
#
# fail_futures does not run the DFK's callback on each executor future: it fails them
# with every future lock held once, hands the DFK's callbacks to one handler per chunk,
# and the DFK fails the app futures the same way. These tests hold that everything
# else a user relies on still happens.


def test_callbacks_a_user_added_to_app_futures_run_when_a_batch_fails(run_dir):
    ex = HoldingExecutor()
    seen: List[Any] = []
    with without_root_handlers(), parsl.load(Config(executors=[ex], run_dir=run_dir)):
        futures = [double(i) for i in range(3000)]
        for fut in futures:
            fut.add_done_callback(seen.append)
        ex.fail_all("test")
    assert sorted(seen, key=id) == sorted(futures, key=id)
    assert all(isinstance(f.exception(timeout=0), ExecutorLost) for f in seen)


def test_threads_waiting_on_app_futures_wake_when_a_batch_fails(run_dir):
    ex = HoldingExecutor()
    woke: Dict[str, Any] = {}
    with without_root_handlers(), parsl.load(Config(executors=[ex], run_dir=run_dir)):
        futures = [double(i) for i in range(3000)]

        def on_result() -> None:
            try:
                futures[5].result(timeout=60)
            except ExecutorLost as e:
                woke["result"] = e

        def on_wait() -> None:
            woke["wait"] = cf.wait(futures, timeout=60)

        def on_as_completed() -> None:
            woke["as_completed"] = list(cf.as_completed(futures, timeout=60))

        threads = [threading.Thread(target=t) for t in (on_result, on_wait, on_as_completed)]
        for t in threads:
            t.start()
        # Every waiter is registered: result() built the condition of futures[5], wait()
        # and as_completed() put a waiter on every future.
        wait_for(lambda: futures[5]._cond is not None
                 and all(len(f._waiter_list or ()) == 2 for f in futures),
                 timeout=30, what="the three threads to wait on the futures")
        ex.fail_all("test")
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
    assert isinstance(woke["result"], ExecutorLost)
    assert len(woke["wait"].done) == 3000 and not woke["wait"].not_done
    assert len(woke["as_completed"]) == 3000


def test_other_callbacks_on_executor_futures_still_run_in_a_batch(run_dir):
    ex = HoldingExecutor()
    seen: List[Any] = []
    with without_root_handlers(), parsl.load(Config(executors=[ex], run_dir=run_dir)):
        fut = double(1)
        exec_fu = ex.outstanding[0]
        exec_fu.add_done_callback(lambda f: seen.append(f.exception(timeout=0)))
        ex.fail_all("test")
        assert len(seen) == 1 and isinstance(seen[0], ExecutorLost)
        assert fut.exception(timeout=10) is seen[0]


def test_a_thread_waiting_on_an_executor_future_wakes_in_a_batch(run_dir):
    ex = HoldingExecutor()
    woke: List[BaseException] = []
    with without_root_handlers(), parsl.load(Config(executors=[ex], run_dir=run_dir)):
        double(1)
        exec_fu = ex.outstanding[0]

        def waiter() -> None:
            try:
                exec_fu.result(timeout=60)
            except ExecutorLost as e:
                woke.append(e)

        thread = threading.Thread(target=waiter)
        thread.start()
        wait_for(lambda: exec_fu._cond is not None, timeout=30,
                 what="the thread to wait on the executor future")
        ex.fail_all("test")
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert len(woke) == 1


class LiveHoldingExecutor(HoldingExecutor):
    """Holds every try outstanding, retries too, and fails what it holds by taking it
    from its live table one by one, as HTEX does: a try relaunched while the batch runs
    would be taken and failed by the same batch if the DFK relaunched it too early."""

    def __init__(self) -> None:
        super().__init__("live")
        self.table: Dict[int, Future[Any]] = {}

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = LeanFuture()
        self.table[len(self.table) + 1_000_000 * len(self.outstanding)] = future
        self.outstanding.append(future)
        return future

    def fail_all(self, detail: str) -> int:
        def take_all() -> Iterator[Future[Any]]:
            while self.table:
                yield self.table.popitem()[1]

        return fail_futures(self.label, take_all(), ExecutorLost(self.label, detail))


def test_a_relaunch_the_executor_accepts_is_not_failed_by_the_same_batch(run_dir):
    ex = LiveHoldingExecutor()
    with without_root_handlers(), \
            parsl.load(Config(executors=[ex], run_dir=run_dir, retries=1)):
        futures = [double(i) for i in range(3000)]
        assert ex.fail_all("first") == 3000
        assert not any(f.done() for f in futures)
        assert all(f.task_record.try_id == 1 for f in futures)
        assert ex.fail_all("second") == 3000
        assert all(isinstance(f.exception(timeout=0), ExecutorLost) for f in futures)
        assert all(f.task_record.fail_count == 2 for f in futures)


def test_tasks_of_two_dfks_failed_in_one_batch_fail_each_in_its_own_dfk(run_dir, tmp_path):
    first, second = HoldingExecutor("first"), HoldingExecutor("second")
    with without_root_handlers(), \
            parsl.load(Config(executors=[first], run_dir=run_dir)) as dfk1:
        dfk2 = DataFlowKernel(Config(executors=[second], run_dir=str(tmp_path / "two")))
        try:
            double2 = parsl.python_app(double.func, data_flow_kernel=dfk2)
            futures1 = [double(i) for i in range(1500)]
            futures2 = [double2(i) for i in range(1500)]
            mixed = [f for pair in zip(first.outstanding, second.outstanding) for f in pair]
            assert fail_futures("both", mixed, ExecutorLost("both", "test")) == 3000
            assert all(isinstance(f.exception(timeout=0), ExecutorLost)
                       for f in futures1 + futures2)
            assert dfk1.task_state_counts[States.failed] == 1500
            assert dfk2.task_state_counts[States.failed] == 1500
        finally:
            dfk2.cleanup()


def test_no_stripe_is_held_for_a_batch_while_another_thread_holds_one():
    taken, release = threading.Event(), threading.Event()

    def hold_one() -> None:
        with leanfuture._STRIPES[3]:
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold_one)
    holder.start()
    try:
        assert taken.wait(30)
        free: List[bool] = []
        with leanfuture.all_stripes_held() as held:
            # Another thread can take any other stripe: this one holds none.
            probe = threading.Thread(target=lambda: free.append(
                leanfuture._STRIPES[0].acquire(blocking=False)
                and not leanfuture._STRIPES[0].release()))
            probe.start()
            probe.join(30)
        assert held is False
        assert free == [True]
    finally:
        release.set()
        holder.join(30)


def test_a_batch_fails_every_future_while_another_thread_holds_a_future_lock(run_dir):
    ex = HoldingExecutor()
    with without_root_handlers(), parsl.load(Config(executors=[ex], run_dir=run_dir)):
        futures = [double(i) for i in range(3000)]
        taken, release = threading.Event(), threading.Event()

        def hold_one() -> None:
            with leanfuture._STRIPES[7]:
                taken.set()
                release.wait(30)

        holder = threading.Thread(target=hold_one)
        holder.start()
        assert taken.wait(30)
        # The batch takes locks one future at a time and waits for that one stripe.
        threading.Timer(0.2, release.set).start()
        ex.fail_all("test")
        holder.join(30)
    assert all(isinstance(f.exception(timeout=0), ExecutorLost) for f in futures)


def test_a_batch_leaves_no_young_objects_for_the_next_collection_to_walk(run_dir):
    ex = HoldingExecutor()
    with without_root_handlers(), parsl.load(Config(executors=[ex], run_dir=run_dir)):
        futures = [double(i) for i in range(3000)]
        ex.fail_all("test")
        young = gc.get_count()[0]
    # Thousands of exceptions and histories were made; none waits in the young generation.
    assert young < 700, f"{young} objects left in the young generation"
    assert len(futures) == 3000


def test_a_batch_leaves_objects_the_program_froze_frozen(run_dir):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        _run(run_dir, 100)
        # Still frozen (a few frozen objects may have been freed meanwhile); an unfreeze
        # would have left none.
        assert gc.get_freeze_count() > frozen * 0.9
    finally:
        gc.unfreeze()


def test_the_dfks_executor_future_callbacks_are_handled_as_one_batch(run_dir, monkeypatch):
    """The DFK's per-future callback is not run 1,000 times: its registered bulk handler
    gets every failed try (a callback the bulk path does not recognise would silently
    fall back to the slow per-future route)."""
    from parsl.dataflow.taskrecord import TaskRecord
    from parsl.executors import base

    key = next(k for k in base._bulk_handlers
               if k in (vars(TaskRecord).get("__call__"), TaskRecord._on_exec_done))
    handler = base._bulk_handlers[key]
    received: List[int] = []

    def counting(batch: Any, items: List[Any]) -> None:
        received.append(len(items))
        handler(batch, items)

    monkeypatch.setitem(base._bulk_handlers, key, counting)
    futures, _, counts, _ = _run(run_dir, 1000)
    assert sum(received) == 1000 and len(received) == 1
    assert counts[States.failed] == 1000
    assert all(isinstance(f.exception(), ExecutorLost) for f in futures)

"""Task state changes, tries and DFK start/cleanup are published through pluggy hooks."""
from __future__ import annotations

import inspect
import threading
from collections import defaultdict

import pluggy
import pytest

import parsl
from parsl.config import Config
from parsl.dataflow.states import States
from parsl.plugins import hookspecs
from parsl.plugins.hookspecs import hookimpl


class Recorder:
    """A plugin that observes every hook the DFK publishes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.transitions = defaultdict(list)
        self.tries = []
        self.events = []

    @hookimpl
    def parsl_dfk_start(self, dfk):
        self.events.append(("start", dfk.run_id))

    @hookimpl
    def parsl_dfk_cleanup(self, dfk):
        self.events.append(("cleanup", dfk.run_id))

    @hookimpl
    def parsl_task_state_change(self, dfk, task_record, old_state, new_state):
        assert task_record.status == new_state
        with self.lock:
            self.transitions[task_record.id].append((old_state, new_state))

    @hookimpl
    def parsl_task_try_launched(self, dfk, task_record, try_id, executor_label):
        with self.lock:
            self.tries.append(("launched", task_record.id, try_id, executor_label))

    @hookimpl
    def parsl_task_try_finished(self, dfk, task_record, try_id, exception):
        with self.lock:
            self.tries.append(("finished", task_record.id, try_id, type(exception).__name__))


@parsl.python_app
def ok(x):
    return x


@parsl.python_app
def bad():
    raise RuntimeError("nope")


def test_plugin_observes_every_state_change_of_successful_task(run_dir):
    recorder = Recorder()
    with parsl.load(Config(run_dir=run_dir, plugins=[recorder])) as dfk:
        fut = ok(ok(1))
        fut.result(timeout=10)
        run_id = dfk.run_id
    states = [new for _, new in recorder.transitions[fut.tid]]
    assert states == [States.pending, States.launched, States.exec_done]
    assert recorder.transitions[fut.tid][0][0] == States.unsched
    assert recorder.events == [("start", run_id), ("cleanup", run_id)]
    assert ("launched", fut.tid, 0, "threads") in recorder.tries
    assert ("finished", fut.tid, 0, "NoneType") in recorder.tries


def test_plugin_sees_retries_failures_and_dependency_failures(run_dir):
    recorder = Recorder()
    with parsl.load(Config(run_dir=run_dir, plugins=[recorder], retries=1)):
        failing = bad()
        dependent = ok(failing)
        dependent.exception(timeout=10)
    assert [new for _, new in recorder.transitions[failing.tid]] == [
        States.pending, States.launched, States.fail_retryable, States.launched, States.failed]
    assert [new for _, new in recorder.transitions[dependent.tid]] == [
        States.pending, States.dep_fail]
    assert ("finished", failing.tid, 1, "RuntimeError") in recorder.tries


def test_no_plugin_means_no_hook_call_on_the_task_path(run_dir):
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        assert dfk._hook_state is None
        assert dfk._hook_try_launched is None
        assert dfk._hook_try_finished is None


def test_plugin_implementing_unknown_hook_is_rejected_naming_it(run_dir):
    class Wrong:
        @hookimpl
        def parsl_task_state_changed(self, dfk):
            pass

    with pytest.raises(pluggy.PluginValidationError, match="parsl_task_state_changed"):
        parsl.load(Config(run_dir=run_dir, plugins=[Wrong()]))


def test_every_hookspec_is_documented():
    specs = [obj for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("parsl_")]
    assert specs
    for spec in specs:
        doc = inspect.getdoc(spec) or ""
        assert "Called" in doc and "by" in doc.split(".")[0], spec.__name__


def test_single_plugin_per_task_hook_is_called_without_pluggy_dispatch(run_dir):
    recorder = Recorder()
    with parsl.load(Config(run_dir=run_dir, plugins=[recorder])) as dfk:
        assert dfk._hook_state == recorder.parsl_task_state_change
        assert dfk._hook_try_launched == recorder.parsl_task_try_launched
        assert dfk._hook_try_finished == recorder.parsl_task_try_finished


def test_plugin_taking_fewer_hook_arguments_still_observes_state_changes(run_dir):
    class Partial:
        def __init__(self):
            self.states = []

        @hookimpl
        def parsl_task_state_change(self, task_record, new_state):
            self.states.append((task_record.id, new_state))

    partial = Partial()
    with parsl.load(Config(run_dir=run_dir, plugins=[partial])):
        fut = ok(1)
        fut.result(timeout=10)
    assert [s for tid, s in partial.states if tid == fut.tid] == [
        States.pending, States.launched, States.exec_done]


def test_two_plugins_both_observe_every_state_change(run_dir):
    first, second = Recorder(), Recorder()
    with parsl.load(Config(run_dir=run_dir, plugins=[first, second])):
        fut = ok(1)
        fut.result(timeout=10)
    expected = [States.pending, States.launched, States.exec_done]
    assert [new for _, new in first.transitions[fut.tid]] == expected
    assert [new for _, new in second.transitions[fut.tid]] == expected

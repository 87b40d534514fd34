"""What the lean per-task path keeps: shared empty dicts that cannot be corrupted, several
done callbacks on one future, and launch cascades that start every ready task."""
from __future__ import annotations

import copy
import pickle
import threading
from concurrent.futures import Future

import pytest

from parsl import python_app
from parsl.dataflow.leanfuture import LeanFuture
from parsl.dataflow.taskrecord import EMPTY_DICT


@python_app
def echo(x):
    return x


@python_app
def add(x, y):
    return x + y


def test_task_without_keywords_has_empty_kwargs_and_resources(dfk):
    fut = echo(1)
    assert fut.result(timeout=10) == 1
    assert fut.task_record["kwargs"] == {}
    assert fut.task_record["resource_specification"] == {}
    assert isinstance(fut.task_record["kwargs"], dict)


def test_shared_empty_dict_refuses_every_mutation():
    mutations = [
        lambda d: d.__setitem__("cores", 1),
        lambda d: d.__delitem__("cores"),
        lambda d: d.update(cores=1),
        lambda d: d.setdefault("cores", 1),
        lambda d: d.pop("cores"),
        lambda d: d.popitem(),
        lambda d: d.clear(),
        lambda d: d.__ior__({"cores": 1}),
    ]
    for mutate in mutations:
        with pytest.raises(TypeError, match="shared"):
            mutate(EMPTY_DICT)
    assert EMPTY_DICT == {}


def test_shared_empty_dict_copies_and_pickles_as_a_plain_dict():
    for clone in (copy.copy(EMPTY_DICT), copy.deepcopy(EMPTY_DICT),
                  pickle.loads(pickle.dumps(EMPTY_DICT))):
        assert type(clone) is dict and clone == {}
        clone["cores"] = 1


def test_keyword_arguments_still_reach_the_app(dfk):
    assert add(1, y=2).result(timeout=10) == 3


def test_several_done_callbacks_run_in_order_once_each():
    future = LeanFuture()
    seen = []
    for name in ("first", "second", "third"):
        future.add_done_callback(lambda f, name=name: seen.append((name, f)))
    assert len(future._done_callbacks) == 3
    future.set_result(5)
    assert seen == [("first", future), ("second", future), ("third", future)]
    future.add_done_callback(lambda f: seen.append(("late", f)))
    assert seen[-1] == ("late", future) and len(seen) == 4


def test_a_lone_done_callback_runs_once():
    future = LeanFuture()
    seen = []
    future.add_done_callback(seen.append)
    assert future._done_callbacks == [seen.append]
    future.set_result(None)
    assert seen == [future]


def test_completing_one_future_launches_all_its_dependents(dfk):
    gate: Future = Future()
    dependents = [add(echo(gate), i) for i in range(50)]
    chain = echo(gate)
    for _ in range(300):
        chain = add(chain, 1)
    gate.set_result(0)
    assert [f.result(timeout=30) for f in dependents] == list(range(50))
    assert chain.result(timeout=30) == 300


def test_tasks_submitted_from_many_threads_all_complete(dfk):
    results: list = []

    def submit_some(base: int) -> None:
        results.extend(echo(base + i) for i in range(200))

    threads = [threading.Thread(target=submit_some, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(f.result(timeout=30) for f in results) == sorted(
        k * 1000 + i for k in range(4) for i in range(200))

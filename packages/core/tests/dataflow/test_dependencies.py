"""Dependencies through futures, files and sub-workflows."""
from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from parsl import File, join_app, python_app
from parsl.app.futures import DataFuture
from parsl.dataflow.states import States


@python_app
def add(a, b=0):
    return a + b


@python_app
def total(inputs=()):
    return sum(inputs)


@python_app
def wait_for(event):
    assert event.wait(10)
    return "released"


def test_future_as_positional_argument(dfk):
    assert add(add(1, 2), 3).result(timeout=10) == 6


def test_future_as_keyword_argument(dfk):
    assert add(1, b=add(2, b=3)).result(timeout=10) == 6


def test_futures_in_inputs_list(dfk):
    futures = [add(i) for i in range(5)]
    assert total(inputs=futures).result(timeout=10) == 10


def test_plain_concurrent_future_from_another_system(dfk):
    with cf.ThreadPoolExecutor(1) as pool:
        external = pool.submit(lambda: 40)
        assert add(external, 2).result(timeout=10) == 42


def test_unresolved_plain_future_holds_task_pending(dfk):
    external: cf.Future = cf.Future()
    fut = add(external, 1)
    assert fut.task_record.status == States.pending
    assert not fut.done()
    external.set_result(1)
    assert fut.result(timeout=10) == 2


def test_task_waits_for_every_dependency(dfk):
    event = threading.Event()
    blocked = wait_for(event)
    quick = add(1)

    @python_app
    def pair(a, b):
        return (a, b)

    fut = pair(quick, blocked)
    assert quick.result(timeout=10) == 1
    assert fut.task_record.status == States.pending
    assert not fut.done()
    event.set()
    assert fut.result(timeout=10) == (1, "released")


def test_outputs_produce_data_futures_completing_with_the_file(dfk, tmp_path):
    @python_app
    def write(text, outputs=()):
        with open(outputs[0].filepath, "w") as f:
            f.write(text)

    @python_app
    def read(inputs=()):
        with open(inputs[0].filepath) as f:
            return f.read()

    target = File(str(tmp_path / "data.txt"))
    producer = write("payload", outputs=[target])
    assert len(producer.outputs) == 1
    data_future = producer.outputs[0]
    assert isinstance(data_future, DataFuture)
    assert data_future.tid == producer.tid
    assert read(inputs=[data_future]).result(timeout=10) == "payload"
    assert data_future.result(timeout=10) is target
    assert data_future.filepath == str(tmp_path / "data.txt")


def test_data_future_fails_when_producer_fails(dfk, tmp_path):
    @python_app
    def broken(outputs=()):
        raise RuntimeError("no file for you")

    producer = broken(outputs=[File(str(tmp_path / "never"))])
    with pytest.raises(RuntimeError, match="no file for you"):
        producer.outputs[0].result(timeout=10)


def test_join_app_returning_single_future(dfk):
    @join_app
    def chain(n):
        fut = add(0)
        for i in range(n):
            fut = add(fut, i)
        return fut

    fut = chain(5)
    assert fut.result(timeout=10) == 10
    assert fut.task_record.status == States.exec_done


def test_join_app_returning_list_of_futures(dfk):
    @join_app
    def fan_out(n):
        return [add(i, i) for i in range(n)]

    assert fan_out(3).result(timeout=10) == [0, 2, 4]


def test_nested_join_apps_build_sub_workflows(dfk):
    @join_app
    def tree(depth):
        if depth == 0:
            return add(1)
        return total(inputs=[tree(depth - 1), tree(depth - 1)])

    assert tree(3).result(timeout=20) == 8


def test_join_app_returning_non_future_fails_clearly(dfk):
    @join_app
    def not_a_join():
        return 5

    with pytest.raises(TypeError, match="must return a Future or a list of Futures"):
        not_a_join().result(timeout=10)


def test_lifted_getitem_returns_future(dfk):
    @python_app
    def record():
        return {"a": [10, 20]}

    fut = record()["a"][1]
    assert fut.result(timeout=10) == 20


def test_lifted_getattr_returns_future(dfk):
    @python_app
    def make_file():
        return File("/tmp/some/where.txt")

    name = make_file().filename
    assert name.result(timeout=10) == "where.txt"
    assert add(make_file().scheme, "!").result(timeout=10) == "file!"


def test_lifted_private_attribute_is_not_lifted(dfk):
    fut = add(1)
    with pytest.raises(AttributeError):
        fut._no_such_thing  # noqa: B018


def test_long_chain_does_not_overflow_the_stack(dfk):
    gate: cf.Future = cf.Future()
    fut = add(gate)
    for _ in range(3000):
        fut = add(fut, 1)
    gate.set_result(0)
    assert fut.result(timeout=60) == 3000


def test_long_chain_of_dependency_failures_does_not_overflow_the_stack(dfk):
    gate: cf.Future = cf.Future()
    fut = add(gate)
    for _ in range(3000):
        fut = add(fut, 1)
    gate.set_exception(KeyError("root"))
    with pytest.raises(Exception, match="KeyError"):
        fut.result(timeout=60)

"""Task priorities (``parsl_resource_specification={"priority": N}``), as Parsl orders them:
prioritized tasks before the others, lower values first, equal values in arrival order."""
from __future__ import annotations

import math

import pytest
from htex_support import wait_for
from htex_test_tasks import finish_time

from parsl.executors.errors import InvalidResourceSpecification
from parsl_htex import _protocol as P
from parsl_htex._pending import PendingTasks


def _task(n: int) -> tuple:
    key = P.task_header(n, n, 0)[:P.KEY_SIZE]
    return key, memoryview(b"record-%d" % n)


def test_pending_tasks_order_prioritized_first_then_fifo() -> None:
    pending = PendingTasks()
    pending.extend([_task(1), _task(2)])
    pending.extend_prioritized(5.0, [_task(3)])
    pending.extend_prioritized(1.0, [_task(4)])
    pending.extend_prioritized(5.0, [_task(5)])
    batch, _ = pending.take(10)
    assert [P.key_ids(key)[0] for key, _ in batch] == [4, 3, 5, 1, 2]
    assert not pending


def test_pending_tasks_put_back_restores_each_task_to_its_place() -> None:
    pending = PendingTasks()
    pending.extend([_task(1), _task(2)])
    pending.extend_prioritized(2.0, [_task(3)])
    batch, places = pending.take(2)
    pending.put_back(batch, places)
    again, _ = pending.take(3)
    assert [P.key_ids(key)[0] for key, _ in again] == [3, 1, 2]


def test_pending_tasks_put_back_of_an_unprioritized_batch_keeps_fifo_order() -> None:
    pending = PendingTasks()
    pending.extend([_task(1), _task(2), _task(3)])
    batch, places = pending.take(2)
    pending.put_back(batch, places)
    again, _ = pending.take(3)
    assert [P.key_ids(key)[0] for key, _ in again] == [1, 2, 3]


def test_nan_priority_message_is_malformed() -> None:
    record = P.task_header(1, 1, 0)
    with pytest.raises(P.MalformedMessage, match="NaN"):
        P.split_prioritized_tasks(memoryview(P.prioritized_tasks(math.nan, record)))


@pytest.mark.parametrize("bad", ["high", True, math.nan, [1]])
def test_priority_that_is_not_a_number_is_refused_at_submit(make_htex, bad) -> None:
    ex = make_htex(scale_out=False)
    with pytest.raises(InvalidResourceSpecification, match="priority"):
        ex.submit(finish_time, {"priority": bad})


def test_tasks_run_in_priority_order_with_fifo_among_equals(make_htex) -> None:
    """Submitted while no worker exists, then one worker runs them one at a time: the
    order they ran in is the priority order."""
    ex = make_htex(scale_out=False, max_workers_per_node=1)
    priorities = [10, 3, 7, 3, None, 1, 10, None, 1]
    futures = [ex.submit(finish_time, {} if p is None else {"priority": p})
               for p in priorities]
    wait_for(lambda: ex.outstanding() == len(priorities), what="the interchange to queue "
             "every task")
    ex.scale_out_facade(1)
    ran_at = [f.result(timeout=60) for f in futures]
    order = sorted(range(len(priorities)), key=lambda i: ran_at[i])
    # Prioritized tasks first, lower values first, ties in submission order; then the rest.
    expected = sorted((i for i, p in enumerate(priorities) if p is not None),
                      key=lambda i: (priorities[i], i))
    expected += [i for i, p in enumerate(priorities) if p is None]
    assert order == expected

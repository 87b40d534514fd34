"""The in-process radio (``MultiprocessingQueueRadio``, Parsl's radio for the thread
executor): a queue in the submitting process, found through the registry."""
from __future__ import annotations

import json
import threading
from typing import Any, List, Tuple

import pytest
from monitoring_support import query, threads_config

import parsl
from parsl.app.app import python_app


def test_in_process_radio_resolves_through_the_registry_and_parsls_path() -> None:
    from parsl.monitoring import MultiprocessingQueueRadio
    from parsl.monitoring.radios.multiprocessing import MultiprocessingQueueRadio as Mp
    from parsl_monitoring.radios import MultiprocessingQueueRadio as Ours

    assert MultiprocessingQueueRadio is Mp is Ours


def test_in_process_radio_delivers_every_batch_in_order_before_stop_returns() -> None:
    from parsl_monitoring.radios import MultiprocessingQueueRadio, make_sender

    got: List[Tuple[str, List[Any]]] = []
    lost: List[int] = []
    receiver = MultiprocessingQueueRadio().start_receiver(
        "threads", "/nonexistent", lambda label, batch: got.append((label, batch)),
        lambda n, _why: lost.append(n))
    sender = make_sender(receiver.worker_config)
    senders = [threading.Thread(target=lambda k=k: [
        sender.send(json.dumps([["ended", k, i]]).encode()) for i in range(500)])
        for k in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(30)
    sender.send(b"this is not JSON")
    receiver.stop()
    assert lost == [1]
    assert len(got) == 2000 and {label for label, _ in got} == {"threads"}
    for k in range(4):  # each sender's batches arrive in the order it sent them
        assert [b[0][2] for _, b in got if b[0][1] == k] == list(range(500))


def test_in_process_sender_outside_a_running_receiver_is_refused_clearly() -> None:
    from parsl_monitoring.radios import MultiprocessingQueueRadio, make_sender

    receiver = MultiprocessingQueueRadio().start_receiver(
        "threads", "/nonexistent", lambda *_: None, lambda *_: None)
    receiver.stop()
    with pytest.raises(ValueError, match="submitting process"):
        make_sender(receiver.worker_config)


def test_thread_executor_takes_the_in_process_radio_and_records_its_tasks(
        tmp_path: Any) -> None:
    from parsl.executors import ThreadPoolExecutor
    from parsl.monitoring import MultiprocessingQueueRadio

    url = f"sqlite:///{tmp_path}/monitoring.db"
    config = threads_config(str(tmp_path / "runinfo"), url)
    config.executors = [ThreadPoolExecutor(
        label="threads", remote_monitoring_radio=MultiprocessingQueueRadio())]

    @python_app
    def double(x: int) -> int:
        return 2 * x

    with parsl.load(config) as dfk:
        assert [double(i).result(timeout=60) for i in range(5)] == [0, 2, 4, 6, 8]
        run_id = dfk.run_id
    assert query(url, "SELECT count(*) AS n FROM task WHERE run_id = :r AND "
                 "task_status_name = 'exec_done'", r=run_id)[0]["n"] == 5

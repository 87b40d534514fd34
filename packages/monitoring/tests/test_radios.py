"""The in-process radio (``MultiprocessingQueueRadio``, Parsl's radio for the thread
executor): a queue in the submitting process, found through the registry."""
from __future__ import annotations

import threading
from typing import Any, Dict, List, Tuple

import pytest
from monitoring_support import query, threads_config

import parsl
from parsl.app.app import python_app
from parsl_monitoring.batches import encode_batch


def test_in_process_radio_resolves_through_the_registry_and_parsls_path() -> None:
    from parsl.monitoring import MultiprocessingQueueRadio
    from parsl.monitoring.radios.multiprocessing import MultiprocessingQueueRadio as Mp
    from parsl_monitoring.radios import MultiprocessingQueueRadio as Ours

    assert MultiprocessingQueueRadio is Mp is Ours


def test_in_process_radio_delivers_every_batch_in_order_before_stop_returns() -> None:
    from parsl_monitoring.radios import MultiprocessingQueueRadio, make_sender, start_receiver

    got: List[Tuple[str, List[Any]]] = []
    lost: List[int] = []
    receiver = start_receiver(
        MultiprocessingQueueRadio(), "threads", "/nonexistent",
        lambda label, batch: got.append((label, batch)),
        lambda n, _why: lost.append(n))
    sender = make_sender(receiver.worker_config)
    senders = [threading.Thread(target=lambda k=k: [
        sender.send(encode_batch([["ended", k, i]])) for i in range(500)])
        for k in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(30)
    sender.send(b"this is not a batch")
    receiver.stop()
    assert lost == [1]
    assert len(got) == 2000 and {label for label, _ in got} == {"threads"}
    for k in range(4):  # each sender's batches arrive in the order it sent them
        assert [b[0][2] for _, b in got if b[0][1] == k] == list(range(500))


def test_in_process_sender_outside_a_running_receiver_is_refused_clearly() -> None:
    from parsl_monitoring.radios import MultiprocessingQueueRadio, make_sender, start_receiver

    receiver = start_receiver(
        MultiprocessingQueueRadio(), "threads", "/nonexistent", lambda *_: None, lambda *_: None)
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


def test_executors_default_to_parsls_radios_whichever_path_names_them() -> None:
    from parsl.executors import HighThroughputExecutor, ThreadPoolExecutor
    from parsl.monitoring.radios.htex import HTEXRadio
    from parsl.monitoring.radios.multiprocessing import MultiprocessingQueueRadio

    assert isinstance(HighThroughputExecutor().remote_monitoring_radio, HTEXRadio)
    assert isinstance(ThreadPoolExecutor().remote_monitoring_radio, MultiprocessingQueueRadio)
    assert repr(HTEXRadio()) == "HTEXRadio()"


def test_executor_refuses_a_radio_that_is_not_one() -> None:
    from parsl.executors import ThreadPoolExecutor

    with pytest.raises(TypeError, match="remote_monitoring_radio"):
        ThreadPoolExecutor(remote_monitoring_radio="udp")  # type: ignore[arg-type]


def _try_rows(url: str, run_id: str) -> List[Dict[str, Any]]:
    return query(url, "SELECT * FROM try WHERE run_id = :r ORDER BY task_id, try_id",
                 r=run_id)


@pytest.mark.parametrize("radio", ["default", pytest.param("udp", marks=pytest.mark.slow),
                                   pytest.param("filesystem", marks=pytest.mark.slow)])
def test_thread_tasks_record_running_and_running_ended_through_any_radio(
        tmp_path: Any, radio: str) -> None:
    """Parsl's thread config (test_monitoring/test_basic.py) uses UDPRadio; the default is
    the in-process queue. Either way each try gets its worker-side times and status rows,
    and no resource rows."""
    from parsl.executors import ThreadPoolExecutor
    from parsl.monitoring import FilesystemRadio, UDPRadio

    url = f"sqlite:///{tmp_path}/monitoring.db"
    config = threads_config(str(tmp_path / "runinfo"), url)
    chosen = {"default": None, "udp": UDPRadio(address="127.0.0.1"),
              "filesystem": FilesystemRadio()}[radio]
    config.executors = [ThreadPoolExecutor(label="threads", max_threads=3,
                                           remote_monitoring_radio=chosen)]

    @python_app
    def double(x: int) -> int:
        return 2 * x

    with parsl.load(config) as dfk:
        futures = [double(i) for i in range(30)]
        assert [f.result(timeout=60) for f in futures] == [2 * i for i in range(30)]
        run_id = dfk.run_id
    tries = _try_rows(url, run_id)
    assert len(tries) == 30
    for t in tries:
        assert t["task_try_time_launched"] <= t["task_try_time_running"] \
            <= t["task_try_time_returned"]
        assert t["hostname"] and t["worker_id"].startswith("parsl-threads")
    counts = query(url, "SELECT task_status_name AS s, count(*) AS n FROM status "
                   "WHERE run_id = :r GROUP BY task_status_name", r=run_id)
    assert {c["s"]: c["n"] for c in counts} == {
        "pending": 30, "launched": 30, "running": 30, "running_ended": 30, "exec_done": 30}
    assert query(url, "SELECT count(*) AS n FROM resource WHERE run_id = :r",
                 r=run_id)[0]["n"] == 0
    assert query(url, "SELECT messages_lost FROM workflow WHERE run_id = :r",
                 r=run_id)[0]["messages_lost"] == 0


def test_a_failing_thread_task_still_records_running_ended(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/monitoring.db"

    @python_app
    def explode() -> None:
        raise RuntimeError("no")

    with parsl.load(threads_config(str(tmp_path / "runinfo"), url)) as dfk:
        with pytest.raises(RuntimeError):
            explode().result(timeout=60)
        run_id = dfk.run_id
    rows = query(url, "SELECT task_status_name FROM status WHERE run_id = :r "
                 "ORDER BY timestamp, id", r=run_id)
    assert [r["task_status_name"] for r in rows] == [
        "pending", "launched", "running", "running_ended", "failed"]


def test_thread_executor_without_monitoring_runs_tasks_unobserved() -> None:
    """No plugin: no observer, no executor task ids, the task function itself runs."""
    from parsl.executors import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_threads=1)
    executor.start()
    try:
        future = executor.submit(lambda: 7, {})
        assert future.result(timeout=30) == 7
        assert executor.task_observer is None
        assert not hasattr(future, "parsl_executor_task_id")
    finally:
        executor.shutdown(block=True)


def test_thread_executor_udp_radio_without_address_stays_on_loopback() -> None:
    """The thread executor's senders run in the submitting process: no need to listen on
    every interface or to resolve this host's name."""
    from parsl.executors import ThreadPoolExecutor
    from parsl.monitoring import MonitoringHub, UDPRadio

    chosen = UDPRadio()
    radio = MonitoringHub()._radio_for(ThreadPoolExecutor(remote_monitoring_radio=chosen))
    assert radio is chosen and chosen.address == "127.0.0.1"


def test_worker_batch_round_trips_through_its_encoding() -> None:
    from parsl_monitoring.batches import decode_batch

    events = [["running", 3, 7, 1.5, "host", "0", "pool-1"],
              ["resource", 3, 7, [1.5, 30.0, 12, 0.25, None, "running", True]],
              ["ended", 3, 7, 2.5, False]]
    assert decode_batch(encode_batch(events)) == events


def test_payload_naming_a_python_global_is_refused_not_run() -> None:
    """A forged batch that would call a function when unpickled (here os.system) is
    refused before anything runs."""
    import os
    import pickle

    from parsl_monitoring.batches import decode_batch

    class Forged:
        def __reduce__(self) -> Any:
            return (os.system, ("echo forged",))

    with pytest.raises(ValueError, match=r"plain data, not posix\.system"):
        decode_batch(pickle.dumps([Forged()]))


def test_payload_that_is_not_a_list_is_refused_naming_its_type() -> None:
    from parsl_monitoring.batches import decode_batch

    with pytest.raises(ValueError, match="must be a list of events, got dict"):
        decode_batch(encode_batch({"running": 1}))  # type: ignore[arg-type]

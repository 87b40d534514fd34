"""End-to-end behaviour of HighThroughputExecutor with real processes."""
from __future__ import annotations

import os
import re
import stat

import pytest
from htex_support import htex_processes, wait_for
from htex_test_tasks import (
    add,
    fail_with_key_error,
    returns_generator,
    sleep_then_return,
    worker_environment,
)

from parsl.errors import BadParameter
from parsl.executors.base import TaskContext, submitting_task
from parsl.executors.errors import InvalidResourceSpecification
from parsl.logview.records import LogFile
from parsl.serialize.errors import SerializationError
from parsl_htex import _serial
from parsl_htex.executor import HighThroughputExecutor


def test_submit_returns_the_function_result(make_htex):
    ex = make_htex()
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5


def test_many_tasks_all_complete_with_their_own_results(make_htex):
    ex = make_htex()
    futures = [ex.submit(add, {}, i, i) for i in range(2000)]
    assert [f.result(timeout=60) for f in futures] == [2 * i for i in range(2000)]
    assert ex.outstanding == 0 and ex.outstanding() == 0  # Parsl 1.x and current Parsl


def test_results_are_not_held_back_while_a_long_task_runs(make_htex):
    """The interchange may hold a result briefly so several share a message, but only for
    a bounded time: a quick task's result arrives while a long one is still running."""
    ex = make_htex()
    long_task = ex.submit(sleep_then_return, {}, 60, "late")
    quick = [ex.submit(add, {}, i, i) for i in range(20)]
    assert [f.result(timeout=30) for f in quick] == [2 * i for i in range(20)]
    assert not long_task.done()


def test_lambda_defined_at_submit_time_runs_on_the_worker(make_htex):
    ex = make_htex()
    offset = 10
    assert ex.submit(lambda x: x + offset, {}, 1).result(timeout=60) == 11


def test_remote_exception_keeps_type_and_remote_traceback(make_htex):
    ex = make_htex()
    with pytest.raises(KeyError, match="missing-thing") as info:
        ex.submit(fail_with_key_error, {}).result(timeout=60)
    tb = info.value.__parsl_remote_traceback__
    assert "fail_with_key_error" in tb and "KeyError" in tb


def test_unpicklable_result_fails_the_task_naming_the_result_type(make_htex):
    ex = make_htex()
    with pytest.raises(SerializationError, match="result of type 'generator'"):
        ex.submit(returns_generator, {}).result(timeout=60)


def test_unserializable_argument_raises_at_submit(make_htex):
    ex = make_htex(scale_out=False)
    token = submitting_task.set(TaskContext(7, 0, "my_app"))
    try:
        with pytest.raises(SerializationError,
                           match=r"task 7 \(app 'my_app', try 0\).*keyword argument 'gen'"):
            ex.submit(add, {}, 1, gen=(i for i in range(3)))
    finally:
        submitting_task.reset(token)


def test_workers_see_rank_count_and_pool_id(make_htex):
    ex = make_htex()
    envs = [ex.submit(worker_environment, {}) for _ in range(20)]
    envs = [f.result(timeout=60) for f in envs]
    assert {e["PARSL_WORKER_COUNT"] for e in envs} == {"2"}
    assert {e["PARSL_WORKER_RANK"] for e in envs} <= {"0", "1"}
    pools = {m["manager_id"] for m in ex.connected_managers()}
    assert {e["PARSL_WORKER_POOL_ID"] for e in envs} == pools


def test_accelerators_are_pinned_one_per_worker(make_htex):
    ex = make_htex(available_accelerators=["3", "5"], max_workers_per_node=4)
    envs = [f.result(timeout=60) for f in [ex.submit(worker_environment, {}) for _ in range(20)]]
    assert {(e["PARSL_WORKER_RANK"], e["CUDA_VISIBLE_DEVICES"]) for e in envs} <= {
        ("0", "3"), ("1", "5")}
    assert {e["PARSL_WORKER_COUNT"] for e in envs} == {"2"}


def test_logs_carry_dfk_and_executor_task_ids(make_htex):
    ex = make_htex(worker_debug=True)
    token = submitting_task.set(TaskContext(4242, 0, "logged_app"))
    try:
        fut = ex.submit(add, {}, 1, 1)
    finally:
        submitting_task.reset(token)
    assert fut.result(timeout=60) == 2
    htex_id = fut.parsl_executor_task_id
    wanted = {"task_id": 4242, "executor_task_id": htex_id}
    logdir = os.path.join(ex.run_dir, "htex")
    manager = ex.connected_managers()[0]["manager_id"]
    mdir = os.path.join(logdir, "block-0", manager)

    def logged(path: str) -> bool:
        return os.path.exists(path) and any(
            wanted.items() <= r.context.items() for r in LogFile(path, ex.run_dir).records())

    wait_for(lambda: logged(os.path.join(logdir, "interchange.log")), what="interchange log")
    wait_for(lambda: logged(os.path.join(mdir, "manager.log")), what="manager log")
    wait_for(lambda: any(logged(os.path.join(mdir, f"worker_{r}.log")) for r in (0, 1)),
             what="worker log")


def test_resource_specification_without_mpi_mode_is_refused(make_htex):
    ex = make_htex(scale_out=False)
    with pytest.raises(InvalidResourceSpecification, match="num_nodes"):
        ex.submit(add, {"num_nodes": 2}, 1, 1)


def test_certificates_are_owner_only(make_htex):
    ex = make_htex(scale_out=False, encrypted=True)
    cert_dir = os.path.join(ex.run_dir, "htex", "certificates")
    assert ex.cert_dir == cert_dir
    assert stat.S_IMODE(os.stat(cert_dir).st_mode) == 0o700
    for name in os.listdir(cert_dir):
        assert stat.S_IMODE(os.stat(os.path.join(cert_dir, name)).st_mode) == 0o600


def test_unencrypted_executor_runs_tasks_without_keys(make_htex):
    ex = make_htex(encrypted=False)
    assert ex.submit(add, {}, 1, 2).result(timeout=60) == 3
    assert ex.cert_dir is None


def test_shutdown_leaves_no_process_behind(make_htex):
    ex = make_htex()
    assert ex.submit(add, {}, 1, 2).result(timeout=60) == 3
    assert htex_processes(ex.run_dir, ex)
    ex.shutdown()
    wait_for(lambda: not htex_processes(ex.run_dir, ex), timeout=20, what="processes to exit")


def test_submit_after_shutdown_raises(make_htex):
    ex = make_htex(scale_out=False)
    ex.shutdown()
    with pytest.raises(Exception, match="not running"):
        ex.submit(add, {}, 1, 2)


def test_block_launch_command_names_ports_and_cert_dir(make_htex):
    ex = make_htex(scale_out=False)
    cmd = ex._get_launch_command("3")
    assert f"--task_port={ex.worker_task_port}" in cmd
    assert "--block_id=3" in cmd and f"--cert_dir {ex.cert_dir}" in cmd


@pytest.mark.parametrize(("param", "value", "expected"), [
    ("max_workers_per_node", 0, "number >= 1"),
    ("heartbeat_threshold", -1, "number > 0"),
    ("prefetch_capacity", -2, "int >= 0"),
    ("cpu_affinity", "sideways", "one of 'none'"),
    ("worker_port_range", (6000, 5000), "low < high"),
    ("heartbeat_period", 200, "heartbeat_threshold"),
])
def test_bad_values_raise_bad_parameter(param, value, expected):
    with pytest.raises(BadParameter, match=re.escape(expected)) as info:
        HighThroughputExecutor(**{param: value})
    assert info.value.parameter == param


def test_wrong_type_raises_bad_parameter():
    with pytest.raises(BadParameter, match="encrypted"):
        HighThroughputExecutor(encrypted="yes")


def test_serialization_fallback_roundtrips_closures():
    captured = 5
    payload = _serial.pack_apply_message(lambda: captured, (), {})
    func, args, kwargs, spec = _serial.unpack_apply_message(payload)
    assert func() == 5 and args == () and kwargs == {} and spec is None


def test_connected_managers_reports_parsl_keys_and_versions(make_htex):
    """Parsl's keys of connected_managers() (its tests and users' scripts read them)."""
    import sys

    import parsl

    ex = make_htex()
    assert ex.submit(add, {}, 1, 2).result(timeout=60) == 3
    (manager,) = ex.connected_managers()
    assert manager["manager"] == manager["manager_id"]
    assert manager["block_id"] == "0" and manager["worker_count"] == 2
    assert manager["parsl_version"] == parsl.__version__
    v = sys.version_info
    assert manager["python_version"] == f"{v.major}.{v.minor}.{v.micro}"
    assert manager["active"] is True and manager["draining"] is False


def test_connected_managers_packages_lists_each_managers_distributions(make_htex):
    import importlib.metadata

    import parsl

    ex = make_htex()
    assert ex.submit(add, {}, 1, 2).result(timeout=60) == 3
    packages = ex.connected_managers_packages()
    (manager,) = ex.connected_managers()
    assert list(packages) == [manager["manager"]]
    installed = packages[manager["manager"]]
    assert installed["parsl"] == parsl.__version__
    assert installed["pyzmq"] == importlib.metadata.version("pyzmq")
    assert installed["parsl-htex"] == importlib.metadata.version("parsl-htex")


def test_validate_resource_spec_is_public_as_in_parsl():
    ex = HighThroughputExecutor(label="unstarted")
    assert ex.validate_resource_spec({}) is None
    assert ex.validate_resource_spec({"priority": 2}) is None
    with pytest.raises(InvalidResourceSpecification, match="num_nodes"):
        ex.validate_resource_spec({"num_nodes": 2})


def test_command_client_answers_parsls_interchange_commands(make_htex):
    ex = make_htex()
    assert ex.submit(add, {}, 1, 2).result(timeout=60) == 3
    cc = ex.command_client
    (manager,) = cc.run("MANAGERS")
    assert manager["block_id"] == "0"
    assert cc.run("CONNECTED_BLOCKS") == ["0"]
    assert cc.run("WORKERS") == 2
    assert cc.run("OUTSTANDING_C") == 0
    assert cc.run("WORKER_BINDS") == ex.worker_task_port
    assert list(cc.run("MANAGERS_PACKAGES")) == [manager["manager"]]
    assert cc.run("NO_SUCH_COMMAND") == {"reason": "unknown command"}
    cc.run(f"HOLD_WORKER;{manager['manager']}")
    assert ex.connected_managers()[0]["active"] is False

"""App caching within a run: what a memo hit skips and what makes two calls different."""
from __future__ import annotations

import concurrent.futures as cf

import pytest

import parsl
from parsl import bash_app, join_app, python_app
from parsl.config import Config
from parsl.dataflow.memoization import (
    BasicMemoizer,
    Memoizer,
    UnhashableArgument,
    function_identity,
    id_for_memo,
)
from parsl.dataflow.states import States
from parsl.executors.threads import ThreadPoolExecutor
from parsl.plugins.hookspecs import hookimpl


@python_app(cache=True)
def record_run(marker: str, x: int, note: str = "") -> int:
    with open(marker, "a") as f:
        f.write(f"{x}\n")
    return x * 10


@python_app(cache=True, ignore_for_cache=["note"])
def record_run_ignoring_note(marker: str, x: int, note: str = "") -> int:
    with open(marker, "a") as f:
        f.write(f"{x}\n")
    return x * 10


@python_app(cache=True)
def fail_and_record(marker: str) -> None:
    with open(marker, "a") as f:
        f.write("ran\n")
    raise ValueError("deliberate")


@python_app(cache=True)
def return_exception(marker: str) -> ValueError:
    with open(marker, "a") as f:
        f.write("ran\n")
    return ValueError("a value, not a failure")


@python_app
def plus_one(x: int) -> int:
    return x + 1


def _load(run_dir: str, **config: object) -> parsl.DataFlowKernel:
    return parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir,
                             **config))  # type: ignore[arg-type]


def test_second_call_with_same_arguments_does_not_run(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("same")
    first = record_run(marker, 3)
    assert first.result(timeout=10) == 30
    second = record_run(marker, 3)
    assert second.result(timeout=10) == 30
    assert runs(marker) == 1
    assert second.task_record.status is States.memo_done
    assert second.task_record.from_memo is True


def test_different_arguments_run_again(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("different")
    record_run(marker, 1).result(timeout=10)
    record_run(marker, 2).result(timeout=10)
    record_run(marker, 1, note="changed").result(timeout=10)
    assert runs(marker) == 3


def test_ignore_for_cache_excludes_named_argument(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("ignored")
    record_run_ignoring_note(marker, 1, note="a").result(timeout=10)
    second = record_run_ignoring_note(marker, 1, note="b")
    assert second.result(timeout=10) == 10
    assert runs(marker) == 1


def test_future_arguments_are_replaced_by_results_before_hashing(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("futures")
    record_run(marker, plus_one(1)).result(timeout=10)
    again = record_run(marker, plus_one(1))
    assert again.result(timeout=10) == 20
    assert runs(marker) == 1


def test_app_cache_false_in_config_disables_caching(run_dir, counter, runs):
    _load(run_dir, app_cache=False)
    marker = counter("off")
    record_run(marker, 1).result(timeout=10)
    record_run(marker, 1).result(timeout=10)
    assert runs(marker) == 2


def test_memoizer_object_in_config_caches(run_dir, counter, runs):
    _load(run_dir, memoizer=BasicMemoizer())
    marker = counter("memoizer")
    record_run(marker, 1).result(timeout=10)
    record_run(marker, 1).result(timeout=10)
    assert runs(marker) == 1


def test_memoizer_with_memoize_false_disables_caching(run_dir, counter, runs):
    _load(run_dir, memoizer=BasicMemoizer(memoize=False))
    marker = counter("memoize-false")
    record_run(marker, 1).result(timeout=10)
    record_run(marker, 1).result(timeout=10)
    assert runs(marker) == 2


def test_failed_task_returns_the_same_exception_on_the_next_identical_call(
        run_dir, counter, runs):
    _load(run_dir)
    marker = counter("fails")
    first = fail_and_record(marker).exception(timeout=10)
    second = fail_and_record(marker).exception(timeout=10)
    assert isinstance(first, ValueError)
    assert second is first
    assert runs(marker) == 1


def test_memoized_exception_is_not_checkpointed(run_dir, counter, runs):
    from parsl.utils import get_all_checkpoints

    dfk = _load(run_dir, checkpoint_mode="task_exit")
    marker = counter("fails-checkpoint")
    fail_and_record(marker).exception(timeout=10)
    dfk.cleanup()
    _load(run_dir, checkpoint_files=get_all_checkpoints(run_dir))
    assert isinstance(fail_and_record(marker).exception(timeout=10), ValueError)
    assert runs(marker) == 2


class DontReuseSeven(BasicMemoizer):
    """Written against Parsl's interface: check_memo returns None for a miss, else
    whatever BasicMemoizer.check_memo returns."""

    def check_memo(self, task_record):  # type: ignore[no-untyped-def]
        if task_record["args"][1] == 7:
            return None
        return super().check_memo(task_record)


def test_memoizer_subclass_written_for_parsl_plugs_in(run_dir, counter, runs):
    _load(run_dir, memoizer=DontReuseSeven())
    marker = counter("seven")
    for _ in range(2):
        record_run(marker, 1).result(timeout=10)
        record_run(marker, 7).result(timeout=10)
    assert runs(marker) == 3


class DictMemoizer(Memoizer):
    """A memoizer implementing Parsl's abstract interface from scratch."""

    def __init__(self) -> None:
        self.table: dict = {}
        self.started_with: dict = {}
        self.closed = False

    def start(self, *, run_dir: str, config_run_dir: str) -> None:
        self.started_with = {"run_dir": run_dir, "config_run_dir": config_run_dir}

    def check_memo(self, task):  # type: ignore[no-untyped-def]
        key = (task["func_name"], tuple(task["args"]))
        task["hashsum"] = repr(key)
        return self.table.get(key)

    def update_memo_result(self, task, r):  # type: ignore[no-untyped-def]
        future: cf.Future = cf.Future()
        future.set_result(r)
        self.table[(task["func_name"], tuple(task["args"]))] = future

    def update_memo_exception(self, task, e):  # type: ignore[no-untyped-def]
        future: cf.Future = cf.Future()
        future.set_exception(e)
        self.table[(task["func_name"], tuple(task["args"]))] = future

    def close(self) -> None:
        self.closed = True


def test_memoizer_implementing_parsl_interface_from_scratch_plugs_in(
        run_dir, counter, runs):
    memoizer = DictMemoizer()
    dfk = _load(run_dir, memoizer=memoizer)
    marker = counter("dict")
    assert record_run(marker, 2).result(timeout=10) == 20
    assert record_run(marker, 2).result(timeout=10) == 20
    fail_and_record(marker).exception(timeout=10)
    assert isinstance(fail_and_record(marker).exception(timeout=10), ValueError)
    dfk.cleanup()
    assert runs(marker) == 2
    assert memoizer.started_with == {"run_dir": dfk.run_dir, "config_run_dir": run_dir}
    assert memoizer.closed


def test_returned_exception_object_is_memoized_as_a_value(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("returns-exception")
    return_exception(marker).result(timeout=10)
    value = return_exception(marker).result(timeout=10)
    assert isinstance(value, ValueError)
    assert runs(marker) == 1


def test_changed_function_body_is_a_different_app():
    namespace_one: dict = {}
    namespace_two: dict = {}
    exec("def work(x):\n    return x + 1\n", namespace_one)
    exec("def work(x):\n    return x + 2\n", namespace_two)
    assert function_identity(namespace_one["work"]) != function_identity(namespace_two["work"])


def test_same_function_body_has_a_stable_identity():
    assert function_identity(plus_one.func) == function_identity(plus_one.func)


def test_dict_argument_key_does_not_depend_on_insertion_order():
    assert id_for_memo({"a": 1, "b": 2}) == id_for_memo({"b": 2, "a": 1})


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


class Registered:
    def __init__(self, value: int) -> None:
        self.value = value


@id_for_memo.register(Registered)
def _id_for_registered(obj: Registered, output_ref: bool = False) -> bytes:
    return f"Registered:{obj.value}".encode()


class Hooked:
    def __init__(self, value: int) -> None:
        self.value = value


class HookedKeys:
    @hookimpl
    def parsl_memo_key(self, obj, output_ref):
        if isinstance(obj, Hooked):
            return f"Hooked:{obj.value}".encode()
        return None


@python_app(cache=True)
def takes_object(marker: str, obj: object) -> int:
    with open(marker, "a") as f:
        f.write("ran\n")
    return int(getattr(obj, "value", 0))


def test_unknown_argument_type_fails_task_naming_type_and_how_to_register(run_dir, counter):
    _load(run_dir)
    with pytest.raises(UnhashableArgument) as info:
        takes_object(counter("opaque"), Opaque(1)).result(timeout=10)
    message = str(info.value)
    assert "Opaque" in message
    assert "id_for_memo.register" in message
    assert "parsl_memo_key" in message
    assert "ignore_for_cache" in message


def test_unknown_argument_type_is_a_value_error_as_parsl_documents(run_dir, counter):
    _load(run_dir)
    with pytest.raises(ValueError, match=r"unknown type for memoization: .*Opaque"):
        takes_object(counter("opaque-value-error"), Opaque(1)).result(timeout=10)


def test_type_registered_with_singledispatch_is_memoized(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("registered")
    takes_object(marker, Registered(4)).result(timeout=10)
    assert takes_object(marker, Registered(4)).result(timeout=10) == 4
    takes_object(marker, Registered(5)).result(timeout=10)
    assert runs(marker) == 2


def test_type_keyed_by_plugin_hook_is_memoized(run_dir, counter, runs):
    _load(run_dir, plugins=[HookedKeys()])
    marker = counter("hooked")
    takes_object(marker, Hooked(7)).result(timeout=10)
    assert takes_object(marker, Hooked(7)).result(timeout=10) == 7
    assert runs(marker) == 1


@join_app(cache=True)
def memo_join(marker: str, x: int):
    with open(marker, "a") as f:
        f.write("join ran\n")
    return plus_one(x)


def test_memoized_join_app_returns_joined_result_without_running(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("join")
    assert memo_join(marker, 1).result(timeout=10) == 2
    second = memo_join(marker, 1)
    assert second.result(timeout=10) == 2
    assert second.task_record.status is States.memo_done
    assert runs(marker) == 1


@bash_app(cache=True)
def memo_bash(marker: str, word: str) -> str:
    return f"echo {word} >> {marker}"


def test_memoized_bash_app_does_not_run_command_again(run_dir, counter, runs):
    _load(run_dir)
    marker = counter("bash")
    assert memo_bash(marker, "hello").result(timeout=10) == 0
    assert memo_bash(marker, "hello").result(timeout=10) == 0
    assert runs(marker) == 1


@bash_app(cache=True)
def bash_with_stdout(word: str, stdout: str = "") -> str:
    return f"echo {word}"


def test_bash_app_with_new_stdout_path_runs_again(run_dir, tmp_path):
    _load(run_dir)
    first, second = tmp_path / "one.out", tmp_path / "two.out"
    bash_with_stdout("hi", stdout=str(first)).result(timeout=10)
    bash_with_stdout("hi", stdout=str(second)).result(timeout=10)
    assert second.read_text() == "hi\n"

"""Serialization of task messages and results, as executors that cross processes use it."""
from __future__ import annotations

import operator
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from parsl.executors.base import TaskContext, submitting_task
from parsl.serialize import (
    deserialize,
    facade,
    pack_apply_message,
    pack_res_spec_apply_message,
    register_method_for_data,
    serialize,
    unpack_apply_message,
    unpack_res_spec_apply_message,
    unregister_serializer,
)
from parsl.serialize.base import SerializerBase
from parsl.serialize.concretes import DillCallableSerializer
from parsl.serialize.errors import DeserializationError, SerializationError

TASK = TaskContext(task_id=7, try_id=1, app_name="analyse")


def unserializable() -> Iterator[int]:
    return (i for i in range(3))


def test_data_round_trips() -> None:
    value = {"a": [1, 2.5, "x"], "b": (None, b"bytes"), "c": {3, 4}}
    assert deserialize(serialize(value)) == value


def test_task_message_round_trips_function_args_and_kwargs() -> None:
    func, args, kwargs = unpack_apply_message(
        pack_apply_message(operator.add, (1, 2), {"unused": [3]}))
    assert (func, args, kwargs) == (operator.add, (1, 2), {"unused": [3]})


def test_resource_specification_travels_with_the_task() -> None:
    packed = pack_res_spec_apply_message(operator.neg, (5,), {}, {"cores": 2})
    assert unpack_res_spec_apply_message(packed) == (operator.neg, (5,), {}, {"cores": 2})


def test_importable_function_and_plain_arguments_use_pickle() -> None:
    assert pack_apply_message(operator.add, (1, 2), {}).startswith(b"01\n")


def test_arguments_pickle_cannot_handle_fall_back_to_dill() -> None:
    packed = pack_apply_message(operator.add, (lambda: 5,), {})
    assert packed.startswith(b"02\n")
    _, args, _ = unpack_apply_message(packed)
    assert args[0]() == 5


def test_closures_travel_by_value() -> None:
    offset = 10

    def shifted(x: int) -> int:
        return x + offset

    func, args, kwargs = unpack_apply_message(pack_apply_message(shifted, (1,), {}))
    assert func(*args, **kwargs) == 11


def test_function_defined_in_a_script_runs_in_another_process(tmp_path: Path) -> None:
    sender = tmp_path / "user_script.py"
    sender.write_text(textwrap.dedent("""
        import sys
        from parsl.serialize import pack_apply_message

        def greet(name, punctuation="!"):
            return "hello " + name + punctuation

        sys.stdout.buffer.write(pack_apply_message(greet, ("worker",), {"punctuation": "?"}))
        """))
    packed = subprocess.run([sys.executable, str(sender)], capture_output=True, check=True,
                            timeout=60).stdout
    worker = ("import sys\nfrom parsl.serialize import unpack_apply_message\n"
              "f, a, k = unpack_apply_message(sys.stdin.buffer.read())\nprint(f(*a, **k))")
    result = subprocess.run([sys.executable, "-c", worker], input=packed, capture_output=True,
                            check=True, timeout=60, cwd=tmp_path.parent)
    assert result.stdout.decode().strip() == "hello worker?"


def test_unserializable_positional_argument_is_named_with_task_and_type() -> None:
    with pytest.raises(SerializationError) as info:
        pack_apply_message(operator.add, (1, unserializable()), {}, task=TASK)
    message = str(info.value)
    for part in ("task 7", "'analyse'", "positional argument 1", "'generator'"):
        assert part in message


def test_unserializable_keyword_argument_is_named() -> None:
    with pytest.raises(SerializationError, match="keyword argument 'data'"):
        pack_apply_message(operator.add, (), {"data": unserializable()}, task=TASK)


def test_serialization_error_carries_the_serializer_exception_as_cause() -> None:
    with pytest.raises(SerializationError) as info:
        pack_apply_message(operator.add, (unserializable(),), {}, task=TASK)
    assert isinstance(info.value.__cause__, TypeError)
    assert "generator" in str(info.value.__cause__)


def test_task_defaults_to_the_one_being_submitted() -> None:
    token = submitting_task.set(TASK)
    try:
        with pytest.raises(SerializationError, match=r"task 7 \(app 'analyse'"):
            pack_apply_message(operator.add, (unserializable(),), {})
    finally:
        submitting_task.reset(token)


def test_unserializable_result_is_named_the_result() -> None:
    with pytest.raises(SerializationError) as info:
        serialize(unserializable(), task=TASK, what="the result")
    assert "task 7" in str(info.value)
    assert "cannot serialize the result of type 'generator'" in str(info.value)


def test_serialization_error_pickles_for_the_trip_back_from_a_worker() -> None:
    with pytest.raises(SerializationError) as info:
        serialize(unserializable(), task=TASK, what="the result")
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)
    assert copy.fname == "analyse"


def test_message_from_unknown_serializer_is_a_deserialization_error() -> None:
    with pytest.raises(DeserializationError, match="identifier b'zz'"):
        deserialize(b"zz\nwhatever")


def test_corrupt_body_is_a_deserialization_error_with_cause() -> None:
    with pytest.raises(DeserializationError) as info:
        deserialize(b"01\nnot a pickle")
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)


def test_message_without_header_is_a_deserialization_error() -> None:
    with pytest.raises(DeserializationError, match="no serializer identifier"):
        deserialize(b"no header at all")


def test_function_bytes_are_cached_per_function() -> None:
    serializer = DillCallableSerializer()

    def local() -> int:
        return 1

    assert serializer.serialize(local) is serializer.serialize(local)


class ReversingSerializer(SerializerBase):
    """A third-party style serializer: pickle, with the bytes reversed."""

    identifier = b"rv"

    def serialize(self, data: Any) -> bytes:
        return pickle.dumps(data)[::-1]

    def deserialize(self, body: bytes) -> Any:
        return pickle.loads(bytes(body)[::-1])


@pytest.fixture
def reversing() -> Iterator[ReversingSerializer]:
    serializer = ReversingSerializer()
    register_method_for_data(serializer)
    yield serializer
    unregister_serializer(serializer)


def test_registered_serializer_is_used_first_for_data(reversing: ReversingSerializer) -> None:
    message = serialize([1, 2])
    assert message.startswith(b"rv\n")
    assert deserialize(message) == [1, 2]


def test_registered_serializer_is_used_for_task_messages(reversing: ReversingSerializer) -> None:
    packed = pack_apply_message(operator.add, (1, 2), {})
    assert packed.startswith(b"rv\n")
    assert unpack_apply_message(packed) == (operator.add, (1, 2), {})


def test_unregistering_restores_the_default_order(reversing: ReversingSerializer) -> None:
    unregister_serializer(reversing)
    assert serialize([1]).startswith(b"01\n")


def test_serializer_identifier_with_newline_is_rejected() -> None:
    class Bad(ReversingSerializer):
        identifier = b"a\nb"

    with pytest.raises(ValueError, match="identifier"):
        register_method_for_data(Bad())


def test_serializers_are_thread_safe_for_concurrent_packing() -> None:
    errors = []

    def pack_many() -> None:
        try:
            for i in range(200):
                assert unpack_apply_message(pack_apply_message(operator.add, (i, 1), {}))[1] == (
                    i, 1)
        except BaseException as e:  # collected and asserted on below
            errors.append(e)

    threads = [threading.Thread(target=pack_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert not any(t.is_alive() for t in threads)


def test_facade_exposes_parsl_names() -> None:
    for name in ("methods_for_data", "methods_for_code", "register_method_for_data",
                 "unregister_serializer", "pack_res_spec_apply_message"):
        assert hasattr(facade, name)


def test_module_function_shadowed_by_its_app_is_sent_by_value_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``@python_app`` binds the module-level name to the app, so pickle cannot send the
    function by reference; it must go through the cached function serializer instead of
    making every task fall back to dill."""
    (tmp_path / "shadowed_apps.py").write_text(textwrap.dedent("""
        def wrap(f):
            return ("an app object standing in for", f)

        def double(x):
            return 2 * x

        inner = double
        double = wrap(double)
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import shadowed_apps  # type: ignore[import-not-found]

    func = shadowed_apps.inner
    first = pack_apply_message(func, (21,), {})
    assert first.startswith(b"01\n"), "the task itself should still be plain pickle"
    assert pack_apply_message(func, (21,), {}) == first
    f, args, kwargs = unpack_apply_message(first)
    assert f(*args, **kwargs) == 42
    # A function reachable under its own name still travels by reference.
    assert not facade._needs_by_value(operator.add)
    assert not facade._needs_by_value(test_data_round_trips)

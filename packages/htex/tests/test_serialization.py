"""Tasks cross the process boundary through core's serialization facade."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from parsl.serialize.errors import SerializationError
from parsl_htex import _serial

SCRIPT = textwrap.dedent("""
    import sys

    import parsl
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    @parsl.python_app
    def main_app(x):
        # As in Parsl, a function sent by value does not see __main__'s globals: it
        # imports what it needs itself.
        import math

        return math.floor(x * 2.5) + 200


    def plain(x):
        return -x


    if __name__ == "__main__":
        ex = HighThroughputExecutor(label="htex", address="127.0.0.1", max_workers_per_node=1,
                                    heartbeat_period=1, heartbeat_threshold=5,
                                    provider=LocalProvider(init_blocks=1, max_blocks=1))
        with parsl.load(Config(executors=[ex], run_dir=sys.argv[1])):
            print("app", main_app(1).result(timeout=60))
            print("submit", ex.submit(plain, {}, 5).result(timeout=60))
""")


@pytest.mark.slow
def test_functions_defined_in_main_run_on_workers(tmp_path):
    script = tmp_path / "workflow.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "runinfo")],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[:2] == ["app 202", "submit -5"]


def test_task_message_round_trips_function_arguments_and_resource_specification():
    payload = _serial.pack_apply_message(divmod, (7,), {"b": 2}, {"priority": 3})
    func, args, kwargs, spec = _serial.unpack_apply_message(payload)
    assert (func, args, kwargs, spec) == (divmod, (7,), {"b": 2}, {"priority": 3})


def test_empty_resource_specification_unpacks_as_none():
    _, _, _, spec = _serial.unpack_apply_message(_serial.pack_apply_message(len, ("ab",), {}))
    assert spec is None


def test_task_message_uses_cores_wire_format():
    payload = _serial.pack_apply_message(len, ("ab",), {})
    assert payload.split(b"\n", 1)[0] in (b"01", b"02")


def test_unserializable_result_becomes_the_tasks_serialization_error():
    tag, payload = _serial.serialize_result(i for i in range(2))
    ok, error = _serial.result_to_outcome(tag, payload)
    assert not ok
    assert isinstance(error, SerializationError)
    assert "the result of type 'generator'" in str(error)


def test_garbage_result_payload_becomes_a_deserialization_error_not_a_crash():
    ok, error = _serial.result_to_outcome(_serial.RESULT_OK, b"\x00garbage")
    assert not ok and "cannot deserialize the result" in str(error)

"""Work Queue coprocess for ``WorkQueueExecutor(coprocess=True)``: one long-lived Python
per worker slot that runs Parsl tasks, so a task does not pay for a new interpreter.

``work_queue_worker --coprocess CMD`` starts CMD once per slot in the worker's workspace
and reads, from its stdout, a length line and a JSON object with the coprocess's
``name`` and the loopback ``port`` it listens on. For each task sent to the coprocess
(a ``RemoteTask`` naming it), the worker connects, sends a header line
``FUNCTION TASK_ID LENGTH`` and LENGTH bytes of JSON arguments, and reads back a length
line and the response, which becomes the task's output. The task's files are already in
its sandbox ``t.TASK_ID`` under the workspace: the coprocess runs
:func:`parsl_taskvine._runner.main` there exactly as a regular task's ``python3
parsl_taskvine_runner.py function result`` would, and Work Queue brings ``result`` back.

Run as ``python -m parsl_taskvine._coprocess`` (through the executable launcher the
executor writes, since the worker takes a program path).
"""
from __future__ import annotations

import json
import os
import socket
import sys
import traceback
from io import BufferedIOBase
from typing import BinaryIO, Union

#: The coprocess name tasks ask for (``RemoteTask(..., NAME)``).
NAME = "parsl_coprocess"
#: The only function it serves.
FUNCTION = "run_parsl_task"


def _send(stream: Union[BinaryIO, BufferedIOBase], data: bytes) -> None:
    stream.write(b"%d\n" % len(data))
    stream.write(data)
    stream.flush()


def _run(function: str, task_id: int, workspace: str) -> bytes:
    """Run the task whose files are in ``workspace/t.TASK_ID``; ``ok`` or why not."""
    from parsl_taskvine._runner import main as run_task

    if function != FUNCTION:
        return f"unknown function {function!r}; this coprocess serves {FUNCTION}".encode()
    try:
        os.chdir(os.path.join(workspace, f"t.{task_id}"))
        code = run_task(["coprocess", "function", "result"])
        return b"ok" if code == 0 else f"runner exited with {code}".encode()
    except BaseException as e:  # a task calling sys.exit must not end the coprocess
        return f"coprocess could not run task {task_id}: {type(e).__name__}: {e}\n" \
               f"{traceback.format_exc()}".encode()
    finally:
        os.chdir(workspace)


def main() -> int:
    workspace = os.getcwd()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    config = json.dumps({"name": NAME, "port": server.getsockname()[1]}).encode()
    _send(sys.stdout.buffer, config)
    import parsl_taskvine._runner  # noqa: F401  (imported once, before the first task)

    while True:
        conn, _ = server.accept()
        with conn, conn.makefile("rwb") as stream:
            while True:
                header = stream.readline()
                if not header:
                    break
                function, task_id, length = header.split()
                stream.read(int(length))  # the RemoteTask's JSON arguments: none used
                _send(stream, _run(function.decode(), int(task_id), workspace))


if __name__ == "__main__":
    sys.exit(main())

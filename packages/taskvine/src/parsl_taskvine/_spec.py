"""What the submit side sends the manager process for one task, and gets back.

Plain tuples so the pipe between the two processes carries them with one pickle call per
batch, without either side importing the other's modules.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

Number = Union[int, float]


class TaskSpec(NamedTuple):
    """One task for the manager process to submit to TaskVine or Work Queue."""

    task_id: int
    #: "regular" (a python3 process per task) or "serverless" (a TaskVine library call).
    mode: str
    #: ``cloudpickle.dumps((func, args, kwargs))``, see :mod:`parsl_taskvine._runner`.
    payload: bytes
    #: (path on the submit host, name in the task's sandbox) of each file to send.
    inputs: Tuple[Tuple[str, str], ...]
    #: (path on the submit host, name in the task's sandbox) of each file to bring back.
    outputs: Tuple[Tuple[str, str], ...]
    cores: Optional[Number] = None
    memory: Optional[Number] = None
    disk: Optional[Number] = None
    gpus: Optional[Number] = None
    priority: Optional[Number] = None
    running_time_min: Optional[Number] = None
    category: Optional[str] = None
    #: The DFK's task id and try of this task (None outside a DFK), for log records.
    parsl_task_id: Optional[int] = None
    try_id: Optional[int] = None


#: Manager process -> submit side: the task ran; ``outcome`` is the runner's bytes.
RESULT = "result"
#: Manager process -> submit side: the task could not run; carries the reason text and the
#: cctools status code.
FAILED = "failed"
#: Manager process -> submit side, once: listening on this port.
READY = "ready"
#: Manager process -> submit side: it cannot go on; carries the reason.
FATAL = "fatal"
#: Manager process -> submit side: the process group id of the factory it started.
FACTORY = "factory"
#: Submit side -> manager process: a batch of TaskSpec.
TASKS = "tasks"
#: Submit side -> manager process: stop, cancel everything, stop the factory, exit.
STOP = "stop"


class Outcome(NamedTuple):
    """A finished task as the manager process reports it."""

    kind: str  # RESULT or FAILED
    task_id: int
    data: bytes  # runner outcome (RESULT) or utf-8 reason (FAILED)
    status: Optional[Tuple[int, ...]] = None

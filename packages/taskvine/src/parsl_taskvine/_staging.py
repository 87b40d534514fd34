"""Which local files a task reads and writes, and the names they get in its sandbox.

Without a shared filesystem, TaskVine and Work Queue copy a task's files to the worker
and back. The files are those Parsl users already name: ``File`` objects among the
arguments and in ``inputs=[...]`` (sent), in ``outputs=[...]`` (brought back), and a bash
app's ``stdout``/``stderr`` paths (brought back). The task gets copies of those ``File``
objects whose ``local_path`` is the sandbox name, so ``f.filepath`` works unchanged on
the worker, and the caller's objects are never modified.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Sequence, Tuple

from parsl.data_provider.files import File

Pairs = List[Tuple[str, str]]


def _sandbox_file(f: File, name: str) -> File:
    copy = f.cleancopy()
    copy.local_path = name
    return copy


class _Collector:
    def __init__(self) -> None:
        self.inputs: Pairs = []
        self.outputs: Pairs = []

    def send(self, value: Any) -> Any:
        if isinstance(value, File) and value.scheme == "file":
            name = f"in{len(self.inputs)}-{os.path.basename(value.filepath) or 'file'}"
            self.inputs.append((os.path.abspath(value.filepath), name))
            return _sandbox_file(value, name)
        return value

    def receive(self, value: Any) -> Any:
        if isinstance(value, File) and value.scheme == "file":
            local = os.path.abspath(value.filepath)
            name = f"out{len(self.outputs)}-{os.path.basename(local) or 'file'}"
            self.outputs.append((local, name))
            return _sandbox_file(value, name)
        return value

    def stream(self, value: Any) -> Any:
        """A bash app's stdout/stderr: a path, a (path, mode) tuple or a File."""
        if isinstance(value, tuple) and value and isinstance(value[0], (str, os.PathLike)):
            return (self.stream(value[0]), *tuple(value[1:]))
        if isinstance(value, File):
            return self.receive(value)
        if isinstance(value, (str, os.PathLike)):
            local = os.path.abspath(os.fspath(value))
            name = f"out{len(self.outputs)}-{os.path.basename(local) or 'stream'}"
            self.outputs.append((local, name))
            return name
        return value


def localize(args: Sequence[Any], kwargs: Dict[str, Any]
             ) -> Tuple[Tuple[Any, ...], Dict[str, Any], Pairs, Pairs]:
    """Return ``(args, kwargs, inputs, outputs)`` with files renamed for the sandbox."""
    c = _Collector()
    new_args = tuple(c.send(a) for a in args)
    new_kwargs: Dict[str, Any] = {}
    for key, value in kwargs.items():
        if key == "inputs" and isinstance(value, (list, tuple)):
            new_kwargs[key] = type(value)(c.send(v) for v in value)
        elif key == "outputs" and isinstance(value, (list, tuple)):
            new_kwargs[key] = type(value)(c.receive(v) for v in value)
        elif key in ("stdout", "stderr"):
            new_kwargs[key] = c.stream(value)
        else:
            new_kwargs[key] = c.send(value)
    for local, _ in c.inputs:
        if not os.path.exists(local):
            raise FileNotFoundError(f"input file {local!r} of the task does not exist on the "
                                    "submit host, so it cannot be sent to the worker")
    for local, _ in c.outputs:
        parent = os.path.dirname(local)
        if parent:
            os.makedirs(parent, exist_ok=True)
    return new_args, new_kwargs, c.inputs, c.outputs

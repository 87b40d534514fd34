"""Task functions of the staging tests, importable by name in HTEX worker processes
(the fixtures put this folder on the workers' PYTHONPATH)."""
from __future__ import annotations

import os
from typing import Any, List, Sequence


def read_inputs(inputs: Sequence[Any] = ()) -> List[bytes]:
    """The content of each staged input, read at the path the task was given."""
    contents = []
    for f in inputs:
        with open(f.filepath, "rb") as handle:
            contents.append(handle.read())
    return contents


def read_file(f: Any) -> bytes:
    with open(f, "rb") as handle:
        return handle.read()


def local_paths(inputs: Sequence[Any] = ()) -> List[str]:
    return [os.path.abspath(f.filepath) for f in inputs]


def write_outputs(text: str, outputs: Sequence[Any] = ()) -> List[str]:
    """Write ``text`` to every output; returns where it wrote."""
    for f in outputs:
        folder = os.path.dirname(os.path.abspath(f.filepath))
        os.makedirs(folder, exist_ok=True)
        with open(f.filepath, "w") as handle:
            handle.write(text)
    return [f.filepath for f in outputs]


def count_lines(f: Any) -> int:
    with open(f) as handle:
        return len(handle.readlines())


def overwrite_inputs(text: str, inputs: Sequence[Any] = ()) -> None:
    """Modify each input in place, keeping its size: ``text`` over its first bytes (what
    the node cache must notice)."""
    for f in inputs:
        with open(f.filepath, "r+b") as handle:
            handle.write(text.encode())

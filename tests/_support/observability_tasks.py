"""Functions the observability tests run on HTEX workers; importable there by name."""
from __future__ import annotations

import os


def noop(value: object) -> object:
    return value


def fail_first_try(marker: str) -> str:
    """Fail when ``marker`` does not exist yet (creating it), succeed afterwards: a task
    that needs exactly one retry."""
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write("failed once\n")
        raise RuntimeError("first try fails on purpose")
    return "second try"

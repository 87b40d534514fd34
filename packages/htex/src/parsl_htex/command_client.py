"""Parsl's interchange command names over this executor's command channel.

Parsl's ``HighThroughputExecutor.command_client.run("CONNECTED_BLOCKS")`` style is used by
tools and by Parsl's own tests; :class:`CommandClient` maps those names onto the
executor's bounded command round trips, so they get the same timeouts and errors
(:class:`~parsl_htex.errors.CommandTimeout`, :class:`~parsl_htex.errors.InterchangeLost`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

if TYPE_CHECKING:
    from parsl_htex.executor import HighThroughputExecutor


class CommandClient:
    """``run(message)`` answers Parsl's interchange commands: ``OUTSTANDING_C``,
    ``WORKERS``, ``MANAGERS``, ``MANAGERS_PACKAGES``, ``CONNECTED_BLOCKS``,
    ``WORKER_BINDS`` (the port managers connect to for tasks) and
    ``HOLD_WORKER;<manager id>``. An unknown command gets Parsl's
    ``{"reason": "unknown command"}`` reply rather than an exception."""

    def __init__(self, executor: HighThroughputExecutor) -> None:
        self._executor = executor

    def run(self, message: str, timeout_s: Optional[float] = None) -> Any:
        ex = self._executor
        timeout: Dict[str, float] = {} if timeout_s is None else {"timeout": timeout_s}
        name, _, argument = message.partition(";")
        answers: Dict[str, Callable[[], Any]] = {
            "OUTSTANDING_C": lambda: ex._command("outstanding", **timeout),
            "WORKERS": lambda: ex._command("connected_workers", **timeout),
            "MANAGERS": lambda: ex._command("managers", **timeout),
            "MANAGERS_PACKAGES": lambda: ex._command("manager_packages", **timeout),
            "CONNECTED_BLOCKS": lambda: ex._command("connected_blocks", **timeout),
            "WORKER_BINDS": lambda: ex.worker_task_port,
            "HOLD_WORKER": lambda: ex._command("hold", manager_ids=[argument], **timeout),
        }
        answer = answers.get(name)
        if answer is None:
            return {"reason": "unknown command"}
        return answer()

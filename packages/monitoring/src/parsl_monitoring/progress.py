"""Progress displays for people watching a run.

- :class:`ProgressDisplay` is a plugin: ``Config(plugins=[ProgressDisplay()])`` draws a live
  table of the run's tasks by state in the terminal (with rich), updated from core's
  ``parsl_task_state_change`` hook, and removes it when the DFK cleans up.
- :func:`progress` shows a bar for a list of futures until they are all done, in a
  terminal or a notebook (rich renders in both), in the spirit of dask's ``progress``.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, TextIO

from parsl.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.states import States
    from parsl.dataflow.taskrecord import TaskRecord

_ORDER = ("pending", "launched", "joining", "fail_retryable", "exec_done", "memo_done",
          "failed", "dep_fail")


class ProgressDisplay:
    """A live terminal table of task counts by state (a DFK plugin).

    ``refresh`` is seconds between redraws; ``file`` the stream to draw on (default
    stderr). Counting costs one locked dict update per state change.
    """

    def __init__(self, refresh: float = 0.5, file: Optional[TextIO] = None) -> None:
        if not isinstance(refresh, (int, float)) or refresh <= 0:
            raise ValueError(f"ProgressDisplay: refresh must be a number of seconds > 0, "
                             f"got {refresh!r}")
        self.refresh = refresh
        self.file = file
        self.counts: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.started = time.monotonic()

    @hookimpl
    def parsl_task_state_change(self, dfk: DataFlowKernel, task_record: TaskRecord,
                                old_state: States, new_state: States) -> None:
        with self._lock:
            counts = self.counts
            if old_state.name != "unsched":
                counts[old_state.name] = counts.get(old_state.name, 0) - 1
            counts[new_state.name] = counts.get(new_state.name, 0) + 1

    @hookimpl
    def parsl_dfk_start(self, dfk: DataFlowKernel) -> None:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._draw, daemon=True,
                                        name="parsl-progress-display")
        self._thread.start()

    @hookimpl
    def parsl_dfk_cleanup(self, dfk: DataFlowKernel) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def snapshot(self) -> Dict[str, int]:
        """Tasks currently in each state (states never entered are left out)."""
        with self._lock:
            return {state: n for state, n in self.counts.items() if n}

    def render(self) -> Any:
        from rich.table import Table

        counts = self.snapshot()
        table = Table(title=f"Parsl tasks ({time.monotonic() - self.started:.0f} s)")
        table.add_column("state")
        table.add_column("tasks", justify="right")
        for state in _ORDER:
            table.add_row(state, str(counts.get(state, 0)))
        return table

    def _draw(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.file, stderr=self.file is None)
        with Live(self.render(), console=console, refresh_per_second=max(1, int(1 / self.refresh)),
                  transient=False) as live:
            while not self._stop.wait(self.refresh):
                live.update(self.render())
            live.update(self.render())


def progress(futures: Iterable[Future[Any]], interval: float = 0.2,
             file: Optional[TextIO] = None, description: str = "tasks") -> None:
    """Show a progress bar until every future in ``futures`` is done (then return).

    Failed futures count as done; the bar's text says how many failed. Works in a
    terminal and in Jupyter (rich renders there).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    items = list(futures)
    lock = threading.Lock()
    state = {"done": 0, "failed": 0}
    all_done = threading.Event()

    def one_done(fut: Future[Any]) -> None:
        failed = fut.cancelled() or fut.exception() is not None
        with lock:
            state["done"] += 1
            state["failed"] += int(failed)
            if state["done"] == len(items):
                all_done.set()

    if not items:
        return
    for fut in items:
        fut.add_done_callback(one_done)
    console = Console(file=file)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn())
    with Progress(*columns, console=console, refresh_per_second=max(1, int(1 / interval))) \
            as bar:
        task = bar.add_task(description, total=len(items), failed=0)
        while True:
            finished = all_done.wait(interval)
            with lock:
                bar.update(task, completed=state["done"], failed=state["failed"])
            if finished:
                break

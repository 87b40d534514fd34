"""The colour of each task state in parsl-visualize's plots.

One table for the server and the browser: the pages hand it to ``views.js``, so a state
added to :class:`parsl.dataflow.states.States` gets its colour here or the tests fail.
Parsl's dashboard kept two tables (``gantt_colors`` and ``dag_state_colors`` in
``parsl.monitoring.visualization.plots.default.workflow_plots``); that path resolves to
this module, and both names refer to the one table.
"""
from __future__ import annotations

from typing import Dict

STATE_COLORS: Dict[str, str] = {
    "unsched": "#d9e2ec",
    "pending": "#9fb3c8",
    "launched": "#f0b429",
    "running": "#2186eb",
    "running_ended": "#6cb2f0",
    "joining": "#a368fc",
    "fail_retryable": "#f7a072",
    "exec_done": "#3ebd93",
    "memo_done": "#8ded8e",
    "failed": "#e12d39",
    "dep_fail": "#ab091e",
    # A status the database holds but this version does not know (a newer writer).
    "unknown": "#bbbbbb",
}

gantt_colors = STATE_COLORS
dag_state_colors = STATE_COLORS

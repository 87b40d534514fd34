"""The monitoring database's tables, with Parsl's table and column names.

Users' SQL, pandas notebooks and scripts written against Parsl's monitoring database keep
working: ``workflow``, ``task``, ``try``, ``status``, ``resource``, ``node`` and ``block``
carry Parsl's columns. Additions are extra columns only (``workflow.messages_lost``,
``resource.psutil_process_cpu_percent``, ...). Times are naive ``DateTime`` values in UTC.

Columns that several tables share (the row id of append-only tables, the run, task and
try keys, the failure and join columns of tasks and tries) are built by one function
each, so the tables cannot drift apart. Indexes cover the queries the web view and users
run per run and per task, so they stay fast at millions of rows. One database file holds
every run, keyed by ``run_id``.
"""
from __future__ import annotations

from typing import Any, List

from sqlalchemy import (
                        BigInteger,
                        Boolean,
                        Column,
                        DateTime,
                        Float,
                        Index,
                        Integer,
                        MetaData,
                        Table,
                        Text,
)

metadata = MetaData()


def _row_id() -> Column[Any]:
    """The surrogate key of an append-only table (64-bit; SQLite's rowid alias)."""
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                  autoincrement=True)


def _run_id(primary_key: bool = False) -> Column[Any]:
    return Column("run_id", Text, primary_key=primary_key, nullable=False)


def _int_key(name: str, primary_key: bool = False) -> Column[Any]:
    """``task_id`` or ``try_id``: part of the primary key of ``task``/``try``, a plain
    required column elsewhere."""
    if primary_key:
        return Column(name, Integer, primary_key=True, autoincrement=False)
    return Column(name, Integer, nullable=False)


def _texts(*names: str) -> List[Column[Any]]:
    return [Column(name, Text) for name in names]


def _times(*names: str) -> List[Column[Any]]:
    return [Column(name, DateTime) for name in names]


def _floats(*names: str) -> List[Column[Any]]:
    return [Column(name, Float) for name in names]


def _outcome() -> List[Column[Any]]:
    """Columns a task and each of its tries both carry."""
    return _texts("task_fail_history", "task_joins")


workflow = Table(
    "workflow", metadata,
    _run_id(primary_key=True),
    *_texts("workflow_name", "workflow_version"),
    *_times("time_began", "time_completed"),
    *_texts("host", "user", "rundir"),
    Column("tasks_failed_count", Integer, nullable=False, default=0),
    Column("tasks_completed_count", Integer, nullable=False, default=0),
    Column("messages_lost", Integer, nullable=False, default=0),
    *_texts("end_reason"),
)

task = Table(
    "task", metadata,
    _int_key("task_id", primary_key=True),
    _run_id(primary_key=True),
    *_texts("task_depends"),
    Column("task_func_name", Text, nullable=False),
    Column("task_memoize", Text, nullable=False),
    *_texts("task_hashsum", "task_inputs", "task_outputs", "task_stdin", "task_stdout",
            "task_stderr"),
    *_times("task_time_invoked", "task_time_returned"),
    Column("task_fail_count", Integer, nullable=False),
    Column("task_fail_cost", Float, nullable=False),
    *_texts("task_status_name", "task_executor"),
    *_outcome(),
)
# Covers "tasks by app and state" (the run page's counts) without reading task rows.
Index("task_run_func_state_idx", task.c.run_id, task.c.task_func_name,
      task.c.task_status_name)

try_ = Table(
    "try", metadata,
    _int_key("try_id", primary_key=True),
    _int_key("task_id", primary_key=True),
    _run_id(primary_key=True),
    *_texts("block_id", "hostname"),
    Column("task_executor", Text, nullable=False),
    *_times("task_try_time_launched", "task_try_time_running", "task_try_time_returned"),
    *_outcome(),
    *_texts("worker_id"),
    Column("executor_task_id", Integer),
)
Index("try_run_launched_idx", try_.c.run_id, try_.c.task_try_time_launched)
# A task's tries (the primary key starts with try_id, as in Parsl).
Index("try_run_task_idx", try_.c.run_id, try_.c.task_id)
# Failed tries only: the run page lists failures without reading every try.
Index("try_run_failed_idx", try_.c.run_id, try_.c.task_id, try_.c.try_id,
      sqlite_where=try_.c.task_fail_history.isnot(None),
      postgresql_where=try_.c.task_fail_history.isnot(None))

status = Table(
    "status", metadata,
    _row_id(),
    _int_key("task_id"),
    Column("task_status_name", Text, nullable=False),
    Column("timestamp", DateTime, nullable=False),
    _run_id(),
    _int_key("try_id"),
)
Index("status_run_task_idx", status.c.run_id, status.c.task_id)
# Covers the web view's "tasks in each state over time" (group by state, then time).
Index("status_run_state_time_idx", status.c.run_id, status.c.task_status_name,
      status.c.timestamp)

resource = Table(
    "resource", metadata,
    _row_id(),
    _int_key("try_id"),
    _int_key("task_id"),
    _run_id(),
    Column("timestamp", DateTime, nullable=False),
    *_floats("resource_monitoring_interval"),
    Column("psutil_process_pid", Integer),
    *_floats("psutil_process_memory_percent", "psutil_process_children_count",
             "psutil_process_time_user", "psutil_process_time_system",
             "psutil_process_memory_virtual", "psutil_process_memory_resident",
             "psutil_process_disk_read", "psutil_process_disk_write"),
    *_texts("psutil_process_status", "psutil_cpu_num"),
    *_floats("psutil_process_num_ctx_switches_voluntary",
             "psutil_process_num_ctx_switches_involuntary", "psutil_process_cpu_percent",
             "psutil_process_memory_peak"),
    Column("final", Boolean, nullable=False, default=False),
)
Index("resource_run_task_idx", resource.c.run_id, resource.c.task_id, resource.c.try_id)

node = Table(
    "node", metadata,
    _row_id(),
    _run_id(),
    Column("hostname", Text, nullable=False),
    Column("uid", Text, nullable=False),
    Column("block_id", Text, nullable=False),
    Column("cpu_count", Integer),
    *_floats("total_memory"),
    Column("active", Boolean, nullable=False),
    Column("worker_count", Integer),
    *_texts("python_v"),
    Column("timestamp", DateTime, nullable=False),
    *_times("last_heartbeat"),
    *_texts("executor_label", "event"),
)
Index("node_run_idx", node.c.run_id, node.c.timestamp)

block = Table(
    "block", metadata,
    _row_id(),
    _run_id(),
    Column("executor_label", Text, nullable=False),
    Column("block_id", Text, nullable=False),
    *_texts("job_id"),
    Column("timestamp", DateTime, nullable=False),
    *_texts("status", "message"),
)
Index("block_run_idx", block.c.run_id, block.c.timestamp)

#: Every table, by Parsl's name.
TABLES = {"workflow": workflow, "task": task, "try": try_, "status": status,
          "resource": resource, "node": node, "block": block}
#: Every column that holds a time (stored as naive UTC), in any table.
TIME_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns
                         if isinstance(c.type, DateTime))

"""The monitoring database's tables, with Parsl's table and column names.

Users' SQL, pandas notebooks and scripts written against Parsl's monitoring database keep
working: ``workflow``, ``task``, ``try``, ``status``, ``resource``, ``node`` and ``block``
carry Parsl's columns. Additions are extra columns only (``workflow.messages_lost``,
``resource.psutil_process_cpu_percent``, ...). Times are naive ``DateTime`` values in UTC.

Indexes cover the queries the web view and users run per run and per task, so they stay
fast at millions of rows. One database file holds every run, keyed by ``run_id``.
"""
from __future__ import annotations

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

workflow = Table(
    "workflow", metadata,
    Column("run_id", Text, primary_key=True),
    Column("workflow_name", Text),
    Column("workflow_version", Text),
    Column("time_began", DateTime),
    Column("time_completed", DateTime),
    Column("host", Text),
    Column("user", Text),
    Column("rundir", Text),
    Column("tasks_failed_count", Integer, nullable=False, default=0),
    Column("tasks_completed_count", Integer, nullable=False, default=0),
    Column("messages_lost", Integer, nullable=False, default=0),
    Column("end_reason", Text),
)

task = Table(
    "task", metadata,
    Column("task_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Text, primary_key=True),
    Column("task_depends", Text),
    Column("task_func_name", Text, nullable=False),
    Column("task_memoize", Text, nullable=False),
    Column("task_hashsum", Text),
    Column("task_inputs", Text),
    Column("task_outputs", Text),
    Column("task_stdin", Text),
    Column("task_stdout", Text),
    Column("task_stderr", Text),
    Column("task_time_invoked", DateTime),
    Column("task_time_returned", DateTime),
    Column("task_fail_count", Integer, nullable=False),
    Column("task_fail_cost", Float, nullable=False),
    Column("task_status_name", Text),
    Column("task_executor", Text),
    Column("task_joins", Text),
    Column("task_fail_history", Text),
)
Index("task_run_func_idx", task.c.run_id, task.c.task_func_name)

try_ = Table(
    "try", metadata,
    Column("try_id", Integer, primary_key=True, autoincrement=False),
    Column("task_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Text, primary_key=True),
    Column("block_id", Text),
    Column("hostname", Text),
    Column("task_executor", Text, nullable=False),
    Column("task_try_time_launched", DateTime),
    Column("task_try_time_running", DateTime),
    Column("task_try_time_returned", DateTime),
    Column("task_fail_history", Text),
    Column("task_joins", Text),
    Column("worker_id", Text),
    Column("executor_task_id", Integer),
)
Index("try_run_launched_idx", try_.c.run_id, try_.c.task_try_time_launched)

status = Table(
    "status", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("task_id", Integer, nullable=False),
    Column("task_status_name", Text, nullable=False),
    Column("timestamp", DateTime, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("try_id", Integer, nullable=False),
)
Index("status_run_task_idx", status.c.run_id, status.c.task_id)
# Covers the web view's "tasks in each state over time" (group by state, then time).
Index("status_run_state_time_idx", status.c.run_id, status.c.task_status_name,
      status.c.timestamp)

resource = Table(
    "resource", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("try_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("timestamp", DateTime, nullable=False),
    Column("resource_monitoring_interval", Float),
    Column("psutil_process_pid", Integer),
    Column("psutil_process_memory_percent", Float),
    Column("psutil_process_children_count", Float),
    Column("psutil_process_time_user", Float),
    Column("psutil_process_time_system", Float),
    Column("psutil_process_memory_virtual", Float),
    Column("psutil_process_memory_resident", Float),
    Column("psutil_process_disk_read", Float),
    Column("psutil_process_disk_write", Float),
    Column("psutil_process_status", Text),
    Column("psutil_cpu_num", Text),
    Column("psutil_process_num_ctx_switches_voluntary", Float),
    Column("psutil_process_num_ctx_switches_involuntary", Float),
    Column("psutil_process_cpu_percent", Float),
    Column("psutil_process_memory_peak", Float),
    Column("final", Boolean, nullable=False, default=False),
)
Index("resource_run_task_idx", resource.c.run_id, resource.c.task_id, resource.c.try_id)

node = Table(
    "node", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("hostname", Text, nullable=False),
    Column("uid", Text, nullable=False),
    Column("block_id", Text, nullable=False),
    Column("cpu_count", Integer),
    Column("total_memory", Float),
    Column("active", Boolean, nullable=False),
    Column("worker_count", Integer),
    Column("python_version", Text),
    Column("timestamp", DateTime, nullable=False),
    Column("last_heartbeat", DateTime),
    Column("executor_label", Text),
    Column("event", Text),
)
Index("node_run_idx", node.c.run_id, node.c.timestamp)

block = Table(
    "block", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("executor_label", Text, nullable=False),
    Column("block_id", Text, nullable=False),
    Column("job_id", Text),
    Column("timestamp", DateTime, nullable=False),
    Column("status", Text),
    Column("message", Text),
)
Index("block_run_idx", block.c.run_id, block.c.timestamp)

#: Every table, by Parsl's name.
TABLES = {"workflow": workflow, "task": task, "try": try_, "status": status,
          "resource": resource, "node": node, "block": block}

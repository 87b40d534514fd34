"""The web view's queries: small, aggregated results computed by the database.

Every query filters on ``run_id`` (and ``task_id``) with bound parameters and aggregates
in SQL, so pages of runs with hundreds of thousands of tasks stay fast; lists that could
be long (tries in the task stream, failures, graph nodes) are capped and say so. Every
function tolerates a run still in progress: missing end times, tries never started,
tasks without rows in some table.
"""
from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import Float, and_, cast, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from parsl_monitoring.schema import block, node, resource, status, task, try_, workflow

#: Caps on what one page draws.
MAX_STREAM_TRIES = 3000
MAX_FAILURES = 200
MAX_GRAPH_TASKS = 500
TIME_BUCKETS = 120


def _iso(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _epoch(conn: Connection, column: Any) -> ColumnElement[Any]:
    """Seconds since the epoch of a DateTime column, in the connected database's SQL."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", column), Float)


def runs(conn: Connection) -> List[Dict[str, Any]]:
    rows = conn.execute(select(workflow).order_by(workflow.c.time_began.desc())).mappings()
    return [{k: (_iso(v) if k.startswith("time_") else v) for k, v in r.items()} for r in rows]


def run(conn: Connection, run_id: str) -> Optional[Dict[str, Any]]:
    row = conn.execute(select(workflow).where(workflow.c.run_id == run_id)).mappings().first()
    if row is None:
        return None
    return {k: (_iso(v) if k.startswith("time_") else v) for k, v in row.items()}


def state_counts(conn: Connection, run_id: str) -> Dict[str, int]:
    rows = conn.execute(select(task.c.task_status_name, func.count())
                        .where(task.c.run_id == run_id).group_by(task.c.task_status_name))
    return {str(name or "unknown"): int(n) for name, n in rows}


def apps_by_state(conn: Connection, run_id: str) -> Dict[str, Dict[str, int]]:
    """app name -> state -> number of tasks."""
    rows = conn.execute(select(task.c.task_func_name, task.c.task_status_name, func.count())
                        .where(task.c.run_id == run_id)
                        .group_by(task.c.task_func_name, task.c.task_status_name))
    result: Dict[str, Dict[str, int]] = {}
    for app, state, n in rows:
        result.setdefault(str(app), {})[str(state or "unknown")] = int(n)
    return result


def states_over_time(conn: Connection, run_id: str) -> Dict[str, Any]:
    """Tasks in each state over time, from the status rows, in about TIME_BUCKETS steps.

    A task is "in" a state from its status row until its next one; the database counts
    entries per state and time bucket, and the running sums give occupancy.
    """
    if conn.dialect.name == "sqlite":
        buckets = _sqlite_state_buckets(conn, run_id)
    else:
        buckets = _epoch_state_buckets(conn, run_id)
    if buckets is None:
        return {"times": [], "states": {}}
    times, entries = buckets
    steps = len(times)
    zeros = [0] * steps
    after_launch = ("running",) if "running" in entries else (
        "exec_done", "failed", "fail_retryable", "joining")
    leaves = {  # a task leaves a state by entering one of these
        "pending": ("launched", "dep_fail", "memo_done"),
        "launched": after_launch,
        "running": ("running_ended",),
    }
    occupancy: Dict[str, List[int]] = {}
    for state, followers in leaves.items():
        if state in entries:
            occupancy[state] = _running_sum(
                [entries[state][i] - sum(entries.get(f, zeros)[i] for f in followers)
                 for i in range(steps)], floor=0)
    for final in ("exec_done", "memo_done", "failed", "dep_fail"):
        if final in entries:
            occupancy[final] = _running_sum(entries[final], floor=0)
    return {"times": times, "states": occupancy}


def _running_sum(deltas: List[int], floor: int) -> List[int]:
    total = 0
    series = []
    for delta in deltas:
        total += delta
        series.append(max(total, floor))
    return series


def task_stream(conn: Connection, run_id: str) -> Dict[str, Any]:
    """The latest MAX_STREAM_TRIES tries that started running, per worker."""
    total = conn.execute(select(func.count()).select_from(try_)
                         .where(try_.c.run_id == run_id)).scalar_one()
    rows = conn.execute(
        select(try_.c.task_id, try_.c.try_id, try_.c.worker_id, try_.c.hostname,
               try_.c.task_executor, try_.c.task_try_time_launched,
               try_.c.task_try_time_running, try_.c.task_try_time_returned,
               task.c.task_func_name)
        .join(task, and_(task.c.run_id == try_.c.run_id, task.c.task_id == try_.c.task_id))
        .where(try_.c.run_id == run_id)
        .order_by(try_.c.task_try_time_launched.desc())
        .limit(MAX_STREAM_TRIES)).mappings()
    tries = []
    for r in rows:
        start = r["task_try_time_running"] or r["task_try_time_launched"]
        if start is None:
            continue
        tries.append({"task_id": r["task_id"], "try_id": r["try_id"],
                      "worker": r["worker_id"] or f"{r['task_executor']} (no worker events)",
                      "app": r["task_func_name"], "start": _iso(start),
                      "end": _iso(r["task_try_time_returned"])})
    return {"tries": tries, "total": int(total), "shown": len(tries)}


def failures(conn: Connection, run_id: str) -> Dict[str, Any]:
    failed = try_.c.task_fail_history.isnot(None)
    total = conn.execute(select(func.count()).select_from(try_)
                         .where(try_.c.run_id == run_id, failed)).scalar_one()
    rows = conn.execute(
        select(try_.c.task_id, try_.c.try_id, try_.c.task_fail_history, task.c.task_func_name)
        .join(task, and_(task.c.run_id == try_.c.run_id, task.c.task_id == try_.c.task_id))
        .where(try_.c.run_id == run_id, failed)
        .order_by(try_.c.task_id, try_.c.try_id).limit(MAX_FAILURES)).mappings()
    dep_fail = conn.execute(select(func.count()).select_from(task).where(
        task.c.run_id == run_id, task.c.task_status_name == "dep_fail")).scalar_one()
    items = []
    for r in rows:
        text = str(r["task_fail_history"])
        lines = [line for line in text.strip().splitlines() if line.strip()]
        items.append({"task_id": r["task_id"], "try_id": r["try_id"],
                      "app": r["task_func_name"], "error": lines[-1] if lines else text,
                      "traceback": text})
    return {"items": items, "total": int(total), "dep_fail": int(dep_fail)}


def resources_by_app(conn: Connection, run_id: str) -> List[Dict[str, Any]]:
    rows = conn.execute(
        select(task.c.task_func_name,
               func.count(func.distinct(resource.c.task_id)),
               func.avg(resource.c.psutil_process_cpu_percent),
               func.max(resource.c.psutil_process_cpu_percent),
               func.max(resource.c.psutil_process_memory_peak),
               func.avg(resource.c.psutil_process_memory_resident))
        .join(task, and_(task.c.run_id == resource.c.run_id,
                         task.c.task_id == resource.c.task_id))
        .where(resource.c.run_id == run_id)
        .group_by(task.c.task_func_name)).all()
    return [{"app": app, "tasks": int(n), "cpu_avg": float(cpu_avg or 0),
             "cpu_max": float(cpu_max or 0), "memory_peak": float(peak or 0),
             "memory_avg": float(rss or 0)}
            for app, n, cpu_avg, cpu_max, peak, rss in rows]


def blocks_and_nodes(conn: Connection, run_id: str) -> Dict[str, Any]:
    blocks = [{"executor": r["executor_label"], "block": r["block_id"],
               "status": r["status"], "time": _iso(r["timestamp"])}
              for r in conn.execute(select(block).where(block.c.run_id == run_id)
                                    .order_by(block.c.timestamp, block.c.id)).mappings()]
    nodes = [{"uid": r["uid"], "hostname": r["hostname"], "block": r["block_id"],
              "active": bool(r["active"]), "event": r["event"],
              "workers": r["worker_count"], "time": _iso(r["timestamp"])}
             for r in conn.execute(select(node).where(node.c.run_id == run_id)
                                   .order_by(node.c.timestamp, node.c.id)).mappings()]
    return {"blocks": blocks, "nodes": nodes}


def task_detail(conn: Connection, run_id: str, task_id: int) -> Optional[Dict[str, Any]]:
    row = conn.execute(select(task).where(task.c.run_id == run_id,
                                          task.c.task_id == task_id)).mappings().first()
    if row is None:
        return None
    info = {k: (_iso(v) if "time" in k else v) for k, v in row.items()}
    statuses = [{"state": r["task_status_name"], "try_id": r["try_id"],
                 "time": _iso(r["timestamp"])}
                for r in conn.execute(select(status).where(
                    status.c.run_id == run_id, status.c.task_id == task_id)
                    .order_by(status.c.timestamp, status.c.id)).mappings()]
    tries = [{k: (_iso(v) if "time" in k else v) for k, v in r.items()}
             for r in conn.execute(select(try_).where(
                 try_.c.run_id == run_id, try_.c.task_id == task_id)
                 .order_by(try_.c.try_id)).mappings()]
    samples = [{"try_id": r["try_id"], "time": _iso(r["timestamp"]),
                "cpu_percent": r["psutil_process_cpu_percent"],
                "rss": r["psutil_process_memory_resident"],
                "vms": r["psutil_process_memory_virtual"],
                "read": r["psutil_process_disk_read"], "write": r["psutil_process_disk_write"]}
               for r in conn.execute(select(resource).where(
                   resource.c.run_id == run_id, resource.c.task_id == task_id)
                   .order_by(resource.c.timestamp)).mappings()]
    return {"task": info, "statuses": statuses, "tries": tries, "resources": samples}


def dependency_graph(conn: Connection, run_id: str) -> Dict[str, Any]:
    """Task-level graph up to MAX_GRAPH_TASKS tasks; above that, one node per app with
    edge counts (a 10,000-task graph drawn task by task is unreadable and slow)."""
    rows = conn.execute(select(task.c.task_id, task.c.task_func_name, task.c.task_depends,
                               task.c.task_status_name)
                        .where(task.c.run_id == run_id)).all()
    aggregated = len(rows) > MAX_GRAPH_TASKS
    app_of = {tid: app for tid, app, _, _ in rows}
    if aggregated:
        counts: Dict[str, int] = {}
        edges: Dict[Tuple[str, str], int] = {}
        for _, app, depends, _ in rows:
            counts[app] = counts.get(app, 0) + 1
            for dep in _ids(depends):
                if dep in app_of:
                    key = (app_of[dep], app)
                    edges[key] = edges.get(key, 0) + 1
        nodes = [{"id": app, "label": f"{app} ({n})", "state": None} for app, n in counts.items()]
        edge_list = [{"from": a, "to": b, "count": n} for (a, b), n in edges.items()]
    else:
        nodes = [{"id": str(tid), "label": f"{app} {tid}", "state": state}
                 for tid, app, _, state in rows]
        edge_list = [{"from": str(dep), "to": str(tid), "count": 1}
                     for tid, _, depends, _ in rows for dep in _ids(depends) if dep in app_of]
    return {"nodes": _layered(nodes, edge_list), "edges": edge_list, "aggregated": aggregated,
            "tasks": len(rows)}


def _ids(depends: Optional[str]) -> List[int]:
    if not depends:
        return []
    return [int(p) for p in depends.split(",") if p.strip().isdigit()]


def _layered(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Give each node x = its depth (longest chain of dependencies), y = its rank there."""
    parents: Dict[str, List[str]] = {}
    for e in edges:
        if e["from"] != e["to"]:
            parents.setdefault(e["to"], []).append(e["from"])
    depth: Dict[str, int] = {}

    def depth_of(node_id: str) -> int:
        stack = [node_id]
        while stack:
            current = stack[-1]
            pending = [p for p in parents.get(current, []) if p not in depth and p not in stack]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            depth[current] = 1 + max((depth.get(p, 0) for p in parents.get(current, [])),
                                     default=-1)
        return depth[node_id]

    per_layer: Dict[int, int] = {}
    for n in nodes:
        d = depth_of(n["id"])
        n["x"] = d
        n["y"] = per_layer.get(d, 0)
        per_layer[d] = n["y"] + 1
    return nodes


#: (text prefix length of an SQLite timestamp, seconds it spans), finest first.
_SQLITE_BUCKETS = ((19, 1), (18, 10), (16, 60), (15, 600), (13, 3600), (10, 86400))
_TIMESTAMP_TEMPLATE = "0000-01-01 00:00:00"


def _sqlite_state_buckets(conn: Connection, run_id: str
                          ) -> Optional[Tuple[List[str], Dict[str, List[int]]]]:
    """Entries per state and time bucket, grouping SQLite's timestamp text by a prefix
    (second, 10 s, minute, ...): no per-row date parsing, which dominated at 500,000 rows."""
    first, last = conn.execute(select(func.min(status.c.timestamp), func.max(status.c.timestamp))
                               .where(status.c.run_id == run_id)).one()
    if first is None:
        return None
    first_text, last_text = str(first), str(last)
    span = (datetime.datetime.fromisoformat(last_text)
            - datetime.datetime.fromisoformat(first_text)).total_seconds()
    length, step = next(((n, width) for n, width in _SQLITE_BUCKETS
                         if span / width <= TIME_BUCKETS), _SQLITE_BUCKETS[-1])
    suffix = _TIMESTAMP_TEMPLATE[length:]

    def start_of(text: str) -> datetime.datetime:
        return datetime.datetime.fromisoformat(text[:length] + suffix)

    origin = start_of(first_text)
    steps = int((start_of(last_text) - origin).total_seconds() // step) + 1
    prefix = func.substr(status.c.timestamp, 1, length)
    entries: Dict[str, List[int]] = {}
    for state, text, n in conn.execute(
            select(status.c.task_status_name, prefix, func.count())
            .where(status.c.run_id == run_id).group_by(status.c.task_status_name, prefix)):
        i = int((start_of(str(text)) - origin).total_seconds() // step)
        entries.setdefault(str(state), [0] * steps)[min(max(i, 0), steps - 1)] += int(n)
    times = [(origin + datetime.timedelta(seconds=i * step)).isoformat(sep=" ")
             for i in range(steps)]
    return times, entries


def _epoch_state_buckets(conn: Connection, run_id: str
                         ) -> Optional[Tuple[List[str], Dict[str, List[int]]]]:
    """Entries per state and time bucket, bucketing epoch seconds in SQL."""
    seconds = _epoch(conn, status.c.timestamp)
    bounds = conn.execute(select(func.min(seconds), func.max(seconds))
                          .where(status.c.run_id == run_id)).one()
    if bounds[0] is None:
        return None
    start, end = float(bounds[0]), float(bounds[1])
    width = max((end - start) / TIME_BUCKETS, 0.001)
    bucket = func.floor(cast((seconds - start) / width, Float))
    steps = TIME_BUCKETS + 1
    entries: Dict[str, List[int]] = {}
    for state, index, n in conn.execute(select(status.c.task_status_name, bucket, func.count())
                                        .where(status.c.run_id == run_id)
                                        .group_by(status.c.task_status_name, bucket)):
        i = min(int(index or 0), steps - 1)
        entries.setdefault(str(state), [0] * steps)[i] += int(n)
    times = [datetime.datetime.fromtimestamp(start + i * width, datetime.timezone.utc)
             .replace(tzinfo=None).isoformat(sep=" ") for i in range(steps)]
    return times, entries

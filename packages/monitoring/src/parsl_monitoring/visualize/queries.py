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

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.engine import Connection

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


def runs(conn: Connection) -> List[Dict[str, Any]]:
    rows = conn.execute(select(workflow).order_by(workflow.c.time_began.desc())).mappings()
    return [{k: (_iso(v) if k.startswith("time_") else v) for k, v in r.items()} for r in rows]


def run(conn: Connection, run_id: str) -> Optional[Dict[str, Any]]:
    row = conn.execute(select(workflow).where(workflow.c.run_id == run_id)).mappings().first()
    if row is None:
        return None
    return {k: (_iso(v) if k.startswith("time_") else v) for k, v in row.items()}


def state_counts(conn: Connection, run_id: str) -> Dict[str, int]:
    return state_counts_of(apps_by_state(conn, run_id))


def state_counts_of(apps: Dict[str, Dict[str, int]]) -> Dict[str, int]:
    """Tasks per state, from :func:`apps_by_state`'s result (no second query)."""
    counts: Dict[str, int] = {}
    for states in apps.values():
        for state, n in states.items():
            counts[state] = counts.get(state, 0) + n
    return counts


def status_count(conn: Connection, run_id: str) -> int:
    return int(conn.execute(select(func.count()).select_from(status)
                            .where(status.c.run_id == run_id)).scalar_one())


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
    buckets = _state_buckets(conn, run_id)
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


#: The states whose entries the "tasks in each state over time" plot uses.
_PLOTTED_STATES = ("pending", "launched", "running", "running_ended", "exec_done",
                   "memo_done", "failed", "dep_fail", "fail_retryable", "joining")


def _as_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value))


def _state_buckets(conn: Connection, run_id: str
                   ) -> Optional[Tuple[List[str], Dict[str, List[int]]]]:
    """Entries per state and time bucket, counted range by range.

    The index on (run_id, state, timestamp) gives each state's first and last entry
    directly, and each bucket's count is a range of that index, so every row is visited
    once and nothing is sorted or computed per row (grouping 500,000 rows by a computed
    bucket spent most of its time in a temporary B-tree). Same SQL on every database.
    """
    ends = select(func.min(status.c.timestamp), func.max(status.c.timestamp)).where(
        status.c.run_id == bindparam("run"), status.c.task_status_name == bindparam("state"))
    present: Dict[str, Tuple[datetime.datetime, datetime.datetime]] = {}
    for state in _PLOTTED_STATES:
        low, high = conn.execute(ends, {"run": run_id, "state": state}).one()
        if low is not None:
            present[state] = (_as_datetime(low), _as_datetime(high))
    if not present:
        return None
    first = min(low for low, _ in present.values())
    last = max(high for _, high in present.values())
    span = (last - first).total_seconds()
    steps = TIME_BUCKETS if span > 0 else 1
    width = datetime.timedelta(seconds=span / steps) if span > 0 else datetime.timedelta(0)
    bounds = [first + i * width for i in range(steps)] + [last + datetime.timedelta(seconds=1)]
    in_range = select(func.count()).select_from(status).where(
        status.c.run_id == bindparam("run"), status.c.task_status_name == bindparam("state"),
        status.c.timestamp >= bindparam("low"), status.c.timestamp < bindparam("high"))
    entries: Dict[str, List[int]] = {}
    for state, (low, high) in present.items():
        counts = [0] * steps
        for i in range(steps):
            if bounds[i + 1] <= low or bounds[i] > high:
                continue  # nothing of this state in this bucket
            counts[i] = int(conn.execute(in_range, {"run": run_id, "state": state,
                                                    "low": bounds[i],
                                                    "high": bounds[i + 1]}).scalar_one())
        entries[state] = counts
    return [b.isoformat(sep=" ") for b in bounds[:steps]], entries

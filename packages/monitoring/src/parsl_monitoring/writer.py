"""The database writer: one thread that merges monitoring messages and writes them in batches.

Every producer (the DFK's hooks, the radio receivers) puts plain tuples on one
``queue.SimpleQueue``; this thread is the only one that touches the database. Rows that
are built from several messages (a task, a try) are merged in memory, so messages may
arrive in any order: a worker's ``running`` before the DFK's ``launched`` simply fills
other columns of the same try row. Nothing is cleared from memory until the transaction
that writes it commits: a locked SQLite file or a restarting PostgreSQL server delays
rows but does not lose them. Only when the database stays unreachable past
``retry_timeout`` at shutdown are the unwritten rows counted as lost, and the count is
logged (parsl.log) and stored in the workflow row if the database comes back in time.
"""
from __future__ import annotations

import datetime
import logging
import queue
import threading
import time
import typing
from typing import Any, Dict, Hashable, List, Optional, Set, Tuple

from sqlalchemy import Table, and_, bindparam, create_engine, event, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from parsl_monitoring import schema

logger = logging.getLogger(__name__)

#: Message kinds (first element of every message tuple).
TASK = "task"          # (TASK, task_id, {column: value})           merged into a task row
TRY = "try"            # (TRY, task_id, try_id, {column: value})    merged into a try row
STATUS = "status"      # (STATUS, task_id, try_id, state_name, epoch_seconds)
RESOURCE = "resource"  # (RESOURCE, {column: value})                appended
BLOCK = "block"        # (BLOCK, {column: value})                   appended
NODE = "node"          # (NODE, {column: value})                    appended
WORKFLOW = "workflow"  # (WORKFLOW, {column: value})                merged into the run's row
LOST = "lost"          # (LOST, count, reason)                      messages a radio lost
SYNC = "sync"          # (SYNC, threading.Event)                    set once all before it is in

_EPOCH_COLUMNS = {
    "task_time_invoked", "task_time_returned", "task_try_time_launched",
    "task_try_time_running", "task_try_time_returned", "time_began", "time_completed",
    "timestamp", "last_heartbeat",
}
_NOT_NULL_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "task": {"task_func_name": "", "task_memoize": "False", "task_fail_count": 0,
             "task_fail_cost": 0.0},
    "try": {"task_executor": ""},
    "workflow": {"tasks_failed_count": 0, "tasks_completed_count": 0, "messages_lost": 0},
}
#: Pending appended rows above which new ones are dropped (and counted) while the
#: database is unreachable, so a dead database cannot exhaust the run's memory.
MAX_PENDING_ROWS = 5_000_000


def utc(epoch: Optional[float]) -> Optional[datetime.datetime]:
    """A naive UTC datetime for ``epoch`` seconds (the database stores UTC)."""
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)


def make_engine(url: str, busy_timeout: float) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode and a busy timeout so readers never
    block the writer and a briefly locked file is waited for, not failed."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout,
                                                  "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class DatabaseWriter(threading.Thread):
    """Drains the message queue into the database in batches of at most ``flush_period``."""

    def __init__(self, url: str, run_id: str, *, flush_period: float = 0.5,
                 busy_timeout: float = 30.0, retry_timeout: float = 30.0) -> None:
        super().__init__(name="parsl-monitoring-db", daemon=True)
        self.url = url
        self.run_id = run_id
        self.flush_period = flush_period
        self.busy_timeout = busy_timeout
        self.retry_timeout = retry_timeout
        self.queue: queue.SimpleQueue[Tuple[Any, ...]] = queue.SimpleQueue()
        self._stop_requested = threading.Event()
        self._merged: Dict[str, Dict[Hashable, Dict[str, Any]]] = {
            "task": {}, "try": {}, "workflow": {}}
        self._inserted: Dict[str, Set[Hashable]] = {"task": set(), "try": set(),
                                                     "workflow": set()}
        self._appended: Dict[str, List[Dict[str, Any]]] = {
            "status": [], "resource": [], "block": [], "node": []}
        self._syncs: List[threading.Event] = []
        self.lost = 0
        self.lost_reasons: Dict[str, int] = {}
        self.rows_written = 0
        self.engine: Optional[Engine] = None
        self.error: Optional[str] = None

    # ------------------------------------------------------------------ producers

    def put(self, message: Tuple[Any, ...]) -> None:
        self.queue.put(message)

    def sync(self, timeout: float) -> bool:
        """Wait until everything queued before this call is committed; False on timeout."""
        done = threading.Event()
        self.queue.put((SYNC, done))
        return done.wait(timeout)

    def stop(self, timeout: float) -> None:
        """Write what is left (retrying up to ``retry_timeout``), then end the thread."""
        self._stop_requested.set()
        self.queue.put((SYNC, threading.Event()))
        self.join(timeout)
        if self.is_alive():
            logger.error("monitoring database writer did not finish within %.0f s; "
                         "unwritten rows are lost", timeout)

    # ------------------------------------------------------------------ thread

    def run(self) -> None:
        try:
            self.engine = make_engine(self.url, self.busy_timeout)
            schema.metadata.create_all(self.engine)
        except SQLAlchemyError as e:
            self.error = f"{type(e).__name__}: {e}"
            logger.error("monitoring database %s cannot be opened: %s", self.url, self.error)
        stop_deadline: Optional[float] = None
        while True:
            self._drain(self.flush_period)
            stopping = self._stop_requested.is_set()
            if stopping and stop_deadline is None:
                stop_deadline = time.monotonic() + self.retry_timeout
            if self._write():
                for done in self._syncs:
                    done.set()
                self._syncs.clear()
                if stopping and self.queue.empty():
                    break
            elif stopping and stop_deadline is not None and time.monotonic() > stop_deadline:
                self._give_up()
                break
            else:
                time.sleep(min(1.0, self.flush_period))
        if self.engine is not None:
            self.engine.dispose()

    def _drain(self, wait: float) -> None:
        """Merge every queued message; wait up to ``wait`` seconds for the first one."""
        deadline = time.monotonic() + wait
        get = self.queue.get
        while True:
            try:
                message = get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            self._merge(message)
            while True:
                try:
                    message = get(block=False)
                except queue.Empty:
                    break
                self._merge(message)
            if time.monotonic() >= deadline or self._syncs:
                return

    def _merge(self, message: Tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == STATUS:
            _, task_id, try_id, state, epoch = message
            self._append("status", {"task_id": task_id, "try_id": try_id,
                                    "task_status_name": state, "timestamp": epoch,
                                    "run_id": self.run_id})
        elif kind == TASK:
            self._merged["task"].setdefault(message[1], {}).update(message[2])
        elif kind == TRY:
            self._merged["try"].setdefault((message[1], message[2]), {}).update(message[3])
        elif kind in (RESOURCE, BLOCK, NODE):
            row = dict(message[1])
            row["run_id"] = self.run_id
            self._append(kind, row)
        elif kind == WORKFLOW:
            self._merged["workflow"].setdefault(self.run_id, {}).update(message[1])
        elif kind == LOST:
            self._count_lost(message[1], message[2])
        elif kind == SYNC:
            self._syncs.append(message[1])
        else:
            logger.error("monitoring: dropped a message of unknown kind %r", kind)
            self._count_lost(1, "unknown message kind")

    def _append(self, table: str, row: Dict[str, Any]) -> None:
        rows = self._appended[table]
        if len(rows) >= MAX_PENDING_ROWS:
            self._count_lost(1, f"{table} row dropped: database unreachable, buffer full")
            return
        rows.append(row)

    def _count_lost(self, count: int, reason: str) -> None:
        self.lost += count
        self.lost_reasons[reason] = self.lost_reasons.get(reason, 0) + count

    def pending_rows(self) -> int:
        return (sum(len(rows) for rows in self._appended.values())
                + sum(len(rows) for rows in self._merged.values()))

    def _give_up(self) -> None:
        unwritten = self.pending_rows()
        self._count_lost(unwritten, "database unreachable at shutdown")
        logger.error("monitoring: the database %s stayed unreachable for %.0f s at shutdown "
                     "(%s); %d rows were not written. Lost messages by reason: %s", self.url,
                     self.retry_timeout, self.error, unwritten, self.lost_reasons)
        for done in self._syncs:
            done.set()

    # ------------------------------------------------------------------ writing

    def _write(self) -> bool:
        """Write everything merged so far in one transaction; True if it committed."""
        if not any(self._merged.values()) and not any(self._appended.values()):
            return True
        if self.engine is None:
            try:
                self.engine = make_engine(self.url, self.busy_timeout)
                schema.metadata.create_all(self.engine)
            except SQLAlchemyError as e:
                self.engine = None
                self.error = f"{type(e).__name__}: {e}"
                return False
        inserts: Dict[str, List[Dict[str, Any]]] = {}
        updates: Dict[Tuple[str, Tuple[str, ...]], List[Dict[str, Any]]] = {}
        inserted_now: List[Tuple[str, Hashable]] = []
        for table_name, merged_rows in self._merged.items():
            for key, values in merged_rows.items():
                row: Dict[str, Any] = {c: (utc(v) if c in _EPOCH_COLUMNS else v)
                                       for c, v in values.items()}
                if key in self._inserted[table_name]:
                    columns = tuple(sorted(row))
                    params = {f"v_{c}": v for c, v in row.items()}
                    params.update(self._key_columns(table_name, key, prefix="k_"))
                    updates.setdefault((table_name, columns), []).append(params)
                else:
                    full: Dict[str, Any] = {c.name: None
                                            for c in schema.TABLES[table_name].columns}
                    full.update(_NOT_NULL_DEFAULTS.get(table_name, {}))
                    full.update(row)
                    full.update(self._key_columns(table_name, key))
                    inserts.setdefault(table_name, []).append(full)
                    inserted_now.append((table_name, key))
        appended = {name: [{c: (utc(v) if c in _EPOCH_COLUMNS else v) for c, v in r.items()}
                           for r in rows] for name, rows in self._appended.items() if rows}
        try:
            with self.engine.begin() as conn:
                for table_name in ("workflow", "task", "try"):
                    if table_name in inserts:
                        conn.execute(schema.TABLES[table_name].insert(), inserts[table_name])
                for (table_name, columns), params_list in updates.items():
                    conn.execute(self._update_statement(table_name, columns), params_list)
                for table_name, new_rows in appended.items():
                    conn.execute(schema.TABLES[table_name].insert(), new_rows)
        except SQLAlchemyError as e:
            error = f"{type(e).__name__}: {str(e).splitlines()[0]}"
            if error != self.error:
                logger.warning("monitoring: cannot write to %s yet (%s); keeping %d rows in "
                               "memory and retrying", self.url, error, self.pending_rows())
            self.error = error
            return False
        if self.error is not None:
            logger.info("monitoring: database %s writable again", self.url)
            self.error = None
        for table_name, key in inserted_now:
            self._inserted[table_name].add(key)
        self.rows_written += (sum(len(r) for r in inserts.values())
                              + sum(len(r) for r in updates.values())
                              + sum(len(r) for r in appended.values()))
        for merged in self._merged.values():
            merged.clear()
        for appended_rows in self._appended.values():
            appended_rows.clear()
        return True

    def _key_columns(self, table_name: str, key: Hashable,
                     prefix: str = "") -> Dict[str, Any]:
        if table_name == "task":
            return {f"{prefix}task_id": key, f"{prefix}run_id": self.run_id}
        if table_name == "try":
            task_id, try_id = typing.cast(Tuple[int, int], key)
            return {f"{prefix}task_id": task_id, f"{prefix}try_id": try_id,
                    f"{prefix}run_id": self.run_id}
        return {f"{prefix}run_id": key}

    @staticmethod
    def _update_statement(table_name: str, columns: Tuple[str, ...]) -> Any:
        table: Table = schema.TABLES[table_name]
        keys = {"task": ("task_id", "run_id"), "try": ("task_id", "try_id", "run_id"),
                "workflow": ("run_id",)}[table_name]
        condition = and_(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
        return update(table).where(condition).values(
            {c: bindparam(f"v_{c}") for c in columns})

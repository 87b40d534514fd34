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
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from parsl_monitoring import schema
from parsl_monitoring.batches import decode_batch
from parsl_monitoring.fields import SAMPLE_FIELDS
from parsl_monitoring.kinds import (
    BATCH,
    BLOCK,
    END_EVENTS,
    EXEC_ID,
    FINAL,
    FINAL_COLUMNS,
    LOST,
    NODE,
    NOTE,
    PENDING,
    PENDING_COLUMNS,
    PROBE,
    RESOURCE,
    SAMPLE,
    STATE,
    STATUS,
    SYNC,
    TASK,
    TRY,
    TRY_DONE,
    TRY_FINISHED,
    TRY_LAUNCHED,
    WORKER_EVENTS,
    WORKER_PAYLOAD,
    WORKFLOW,
)
from parsl_monitoring.worker_events import WorkerEvents

logger = logging.getLogger(__name__)

_EPOCH_COLUMNS = schema.TIME_COLUMNS
_NOT_NULL_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "task": {"task_func_name": "", "task_memoize": "False", "task_fail_count": 0,
             "task_fail_cost": 0.0},
    "try": {"task_executor": ""},
    "workflow": {"tasks_failed_count": 0, "tasks_completed_count": 0, "messages_lost": 0},
    "resource": {"final": False},
    "node": {"active": False},
}
#: Pending appended rows above which new ones are dropped (and counted) while the
#: database is unreachable, so a dead database cannot exhaust the run's memory.
MAX_PENDING_ROWS = 5_000_000


_EPOCH = datetime.datetime(1970, 1, 1)


def utc(epoch: Optional[float]) -> Optional[datetime.datetime]:
    """A naive UTC datetime for ``epoch`` seconds (the database stores UTC)."""
    if epoch is None:
        return None
    return _EPOCH + datetime.timedelta(seconds=epoch)


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
            # CPU, not safety: a 32 MiB page cache keeps the indexes' hot pages of a large
            # file in memory, and checkpoints every 8,000 pages (not SQLite's 1,000) copy
            # an often-rewritten index page back to the file once instead of many times.
            cursor.execute("PRAGMA cache_size=-32768")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.execute("PRAGMA wal_autocheckpoint=8000")
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
        self._appended: Dict[str, List[Any]] = {
            "status": [], "sample": [], "resource": [], "block": [], "node": []}
        #: The two per-task tables, appended to directly here and by WorkerEvents (no
        #: call per row); the row cap is checked once per queued message, in
        #: :meth:`_drain`.
        self.status_rows = self._appended["status"]
        self.sample_rows = self._appended["sample"]
        self._syncs: List[threading.Event] = []
        self._notes: List[threading.Event] = []
        self.lost = 0
        self.lost_reasons: Dict[str, int] = {}
        self.rows_written = 0
        self.engine: Optional[Engine] = None
        self.error: Optional[str] = None
        self.worker_events = WorkerEvents(self)

    # ------------------------------------------------------------------ producers

    def put(self, message: Tuple[Any, ...]) -> None:
        self.queue.put(message)

    @property
    def unended(self) -> int:
        """Tries the DFK saw finish whose worker has not reported ``ended`` yet."""
        return self.worker_events.unended

    def probe(self, timeout: float) -> bool:
        """Wait until everything queued before this call is merged (not yet written)."""
        done = threading.Event()
        self.queue.put((PROBE, done))
        return done.wait(timeout)

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
                for done in self._syncs + self._notes:
                    done.set()
                self._syncs.clear()
                self._notes.clear()
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
            self._cap_rows()
            while True:
                try:
                    message = get(block=False)
                except queue.Empty:
                    break
                self._merge(message)
                self._cap_rows()
            if time.monotonic() >= deadline or self._syncs:
                return

    def _merge(self, message: Tuple[Any, ...]) -> None:
        kind = message[0]
        # The DFK's three per-task kinds first: they are most of the traffic.
        if kind == STATE:
            _, task_id, try_id, state, epoch, fields = message
            self.status_rows.append((task_id, try_id, state, epoch))
            if fields is not None:
                row = self._row("task", task_id)
                row.update(fields)
                row["task_status_name"] = state
        elif kind == PENDING:
            task_id = message[1]
            self.status_rows.append((task_id, message[2], "pending", message[3]))
            row = self._row("task", task_id)
            row.update(zip(PENDING_COLUMNS, message[4:]))
            row["task_status_name"] = "pending"
        elif kind == FINAL:
            _, task_id, try_id, state, epoch = message[:5]
            self.status_rows.append((task_id, try_id, state, epoch))
            row = self._row("task", task_id)
            row.update(zip(FINAL_COLUMNS, message[5:9]))
            if message[9] is not None:
                row["task_fail_history"] = message[9]
            row["task_status_name"] = state
        elif kind == TRY_LAUNCHED:
            _, task_id, try_id, label, epoch, executor_id = message
            row = self._row("try", (task_id, try_id))
            row["task_executor"] = label
            row["task_try_time_launched"] = epoch
            if executor_id is not None:
                self.worker_events.launched(label, executor_id, task_id, try_id)
        elif kind == TRY_FINISHED:
            _, task_id, try_id, epoch, fail_history, label, executor_id = message
            row = self._row("try", (task_id, try_id))
            row["task_try_time_returned"] = epoch
            if fail_history is not None:
                row["task_fail_history"] = fail_history
            if executor_id is not None:
                self.worker_events.finished(label, executor_id)
        elif kind == BATCH:
            merge = self._merge
            for one in message[1]:
                merge(one)
        elif kind == STATUS:
            self.status_rows.append(message[1:])
        elif kind == SAMPLE:
            _, task_id, try_id, values = message
            if len(values) == len(SAMPLE_FIELDS):
                self.sample_rows.append((task_id, try_id, values))
            else:
                self.count_lost(1, "malformed resource sample")
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
            self.count_lost(message[1], message[2])
        elif kind == WORKER_PAYLOAD:
            try:
                events = decode_batch(message[2])
            except ValueError as e:
                logger.error("monitoring: unreadable worker batch from executor %s: %s",
                             message[1], e)
                self.count_lost(1, "unreadable worker batch")
                return
            self.worker_events.events(message[1], events)
        elif kind == WORKER_EVENTS:
            self.worker_events.events(message[1], message[2])
        elif kind == EXEC_ID:
            self.worker_events.launched(message[1], message[2], message[3], message[4])
        elif kind == TRY_DONE:
            self.worker_events.finished(message[1], message[2])
        elif kind == SYNC:
            self._syncs.append(message[1])
        elif kind == NOTE:
            self._notes.append(message[1])
        elif kind == PROBE:
            message[1].set()
        elif kind == END_EVENTS:
            leftover = self.worker_events.leftover()
            if leftover:
                self.count_lost(leftover, "worker event for a task this run never launched")
        else:
            logger.error("monitoring: dropped a message of unknown kind %r", kind)
            self.count_lost(1, "unknown message kind")

    def _row(self, table: str, key: Hashable) -> Dict[str, Any]:
        """The merged row of ``key`` in ``table`` (``task`` or ``try``), created empty."""
        rows = self._merged[table]
        row = rows.get(key)
        if row is None:
            rows[key] = row = {}
        return row

    def try_row(self, key: Hashable) -> Dict[str, Any]:
        """The merged try row of ``(task_id, try_id)``, created empty (for WorkerEvents)."""
        rows = self._merged["try"]
        row = rows.get(key)
        if row is None:
            rows[key] = row = {}
        return row

    def _append(self, table: str, row: Any) -> None:
        rows = self._appended[table]
        if len(rows) >= MAX_PENDING_ROWS:
            self.count_lost(1, f"{table} row dropped: database unreachable, buffer full")
            return
        rows.append(row)

    def _cap_rows(self) -> None:
        """Drop (and count) the newest per-task rows beyond MAX_PENDING_ROWS: only a
        database unreachable for long lets that many pile up."""
        for table, rows in (("status", self.status_rows), ("sample", self.sample_rows)):
            excess = len(rows) - MAX_PENDING_ROWS
            if excess > 0:
                del rows[MAX_PENDING_ROWS:]
                self.count_lost(excess, f"{table} row dropped: database unreachable, "
                                        "buffer full")

    def count_lost(self, count: int, reason: str) -> None:
        self.lost += count
        self.lost_reasons[reason] = self.lost_reasons.get(reason, 0) + count

    def pending_rows(self) -> int:
        return (sum(len(rows) for rows in self._appended.values())
                + sum(len(rows) for rows in self._merged.values()))

    def _give_up(self) -> None:
        unwritten = self.pending_rows()
        self.count_lost(unwritten, "database unreachable at shutdown")
        logger.error("monitoring: the database %s stayed unreachable for %.0f s at shutdown "
                     "(%s); %d rows were not written. Lost messages by reason: %s", self.url,
                     self.retry_timeout, self.error, unwritten, self.lost_reasons)
        for done in self._syncs + self._notes:
            done.set()

    # ------------------------------------------------------------------ writing

    def _write(self, salvage: bool = False) -> bool:
        """Write everything merged so far in one transaction; True if it committed.

        Rows go to the driver as plain tuples through precompiled INSERT/UPDATE statements
        (``exec_driver_sql``): SQLAlchemy's per-row parameter processing cost several
        times more than SQLite itself, on the thread that shares the GIL with the DFK.
        """
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
        written = 0
        inserted_now: List[Tuple[str, Hashable]] = []
        try:
            with self.engine.begin() as conn:
                sql = _Statements(conn, self.count_lost if salvage else None)
                for table_name in ("workflow", "task", "try"):
                    merged = self._merged[table_name]
                    if not merged:
                        continue
                    inserted = self._inserted[table_name]
                    key_names = _KEYS[table_name]
                    inserts: List[Dict[str, Any]] = []
                    updates: Dict[Tuple[str, ...], List[Tuple[Any, ...]]] = {}
                    for key, values in merged.items():
                        key_values = self._key_values(table_name, key)
                        if key in inserted:
                            columns = tuple(values)
                            rows = updates.get(columns)
                            if rows is None:
                                updates[columns] = rows = []
                            rows.append(sql.update_params(values, columns, key_values))
                        else:
                            # The key columns join the merged dict itself: it is dropped
                            # once this transaction commits.
                            values.update(zip(key_names, key_values))
                            inserts.append(values)
                            inserted_now.append((table_name, key))
                    written += sql.insert(table_name, inserts)
                    for columns, update_params in updates.items():
                        written += sql.update(table_name, columns, update_params)
                status_rows = self.status_rows
                to_time = sql.time
                run_id = self.run_id
                if status_rows:
                    written += sql.execute(sql.insert_sql("status", _STATUS_COLUMNS),
                                           [(t, name, to_time(e), run_id, tr)
                                            for t, tr, name, e in status_rows], "status")
                samples = self.sample_rows
                if samples:
                    # SAMPLE_FIELDS starts with the timestamp.
                    rows = [(task_id, try_id, run_id, to_time(values[0]), *values[1:])
                            for task_id, try_id, values in samples]
                    written += sql.execute(sql.insert_sql("resource", _SAMPLE_COLUMNS), rows,
                                           "resource")
                for table_name in ("resource", "block", "node"):
                    written += sql.insert(table_name, self._appended[table_name])
        except (IntegrityError, DataError) as e:
            if salvage:
                raise
            # A row the database refuses would block every later batch: write this one
            # row by row, and count (and log) only the refused rows as lost.
            logger.error("monitoring: %s refused a batch (%s); writing it row by row",
                         self.url, str(e).splitlines()[0])
            return self._write(salvage=True)
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
        self.rows_written += written
        for merged in self._merged.values():
            merged.clear()
        for appended_rows in self._appended.values():
            appended_rows.clear()
        return True

    def _key_values(self, table_name: str, key: Hashable) -> Tuple[Any, ...]:
        """The primary-key values of a merged row, in the order of ``_KEYS``."""
        if table_name == "try":
            return (*typing.cast(Tuple[int, int], key), self.run_id)
        if table_name == "task":
            return (key, self.run_id)
        return (key,)


_KEYS: Dict[str, Tuple[str, ...]] = {"task": ("task_id", "run_id"),
                                     "try": ("task_id", "try_id", "run_id"),
                                     "workflow": ("run_id",)}
_STATUS_COLUMNS = ("task_id", "task_status_name", "timestamp", "run_id", "try_id")
_SAMPLE_COLUMNS = ("task_id", "try_id", "run_id", *SAMPLE_FIELDS)


#: "YYYY-MM-DD HH:MM:SS." of each epoch second seen lately (a batch's rows share a few).
_second_texts: Dict[int, str] = {}


def _sqlite_time(epoch: Optional[float]) -> Optional[str]:
    """SQLAlchemy's SQLite DateTime text format (UTC) for an epoch; the date and time part
    is formatted once per second, since a batch holds many rows of the same second."""
    if epoch is None:
        return None
    second, micros = divmod(int(epoch * 1e6), 1_000_000)
    text = _second_texts.get(second)
    if text is None:
        if len(_second_texts) >= 4096:
            _second_texts.clear()
        text = _second_texts[second] = time.strftime("%Y-%m-%d %H:%M:%S.",
                                                     time.gmtime(second))
    return f"{text}{micros:06d}"


#: Indexes of the time columns among an UPDATE's columns, by column tuple.
_time_indexes: Dict[Tuple[str, ...], List[int]] = {}
_layouts: Dict[str, Tuple[Tuple[str, ...], List[int], List[Tuple[int, Any]]]] = {}


def _insert_layout(table_name: str) -> Tuple[Tuple[str, ...], List[int], List[Tuple[int, Any]]]:
    """A table's INSERT columns, the indexes of its time columns and of its NOT NULL
    columns with their defaults (computed once per table)."""
    layout = _layouts.get(table_name)
    if layout is None:
        columns = tuple(c.name for c in schema.TABLES[table_name].columns
                        if not (c.primary_key and c.autoincrement is True))
        defaults = _NOT_NULL_DEFAULTS.get(table_name, {})
        layout = (columns, [i for i, c in enumerate(columns) if c in _EPOCH_COLUMNS],
                  [(i, defaults[c]) for i, c in enumerate(columns) if c in defaults])
        _layouts[table_name] = layout
    return layout


class _Statements:
    """Driver-level INSERT/UPDATE statements for one connection's dialect (cached SQL)."""

    _cache: Dict[Tuple[str, str, Tuple[str, ...]], str] = {}

    def __init__(self, conn: Any, on_refused: Optional[Callable[[int, str], None]] = None
                 ) -> None:
        """``on_refused`` set: execute row by row, each in a savepoint, and report each
        row the database refuses instead of failing the transaction."""
        self.conn = conn
        self.on_refused = on_refused
        dialect = conn.dialect
        self.name = dialect.name
        self.quote = dialect.identifier_preparer.quote
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.time = _sqlite_time if self.name == "sqlite" else utc

    def insert_sql(self, table_name: str, columns: Tuple[str, ...]) -> str:
        key = (self.name, "insert:" + table_name, columns)
        sql = self._cache.get(key)
        if sql is None:
            sql = (f"INSERT INTO {self.quote(table_name)} "
                   f"({', '.join(self.quote(c) for c in columns)}) "
                   f"VALUES ({', '.join([self.mark] * len(columns))})")
            self._cache[key] = sql
        return sql

    def insert(self, table_name: str, rows: List[Dict[str, Any]]) -> int:
        if not rows:
            return 0
        columns, time_indexes, defaults = _insert_layout(table_name)
        to_time = self.time
        params = []
        for row in rows:
            values = list(map(row.get, columns))
            for i in time_indexes:
                if values[i] is not None:
                    values[i] = to_time(values[i])
            for i, default in defaults:
                if values[i] is None:
                    values[i] = default
            params.append(tuple(values))  # SQLAlchemy takes executemany rows as tuples
        return self.execute(self.insert_sql(table_name, columns), params, table_name)

    def update_params(self, row: Dict[str, Any], columns: Tuple[str, ...],
                      key_values: Tuple[Any, ...]) -> Tuple[Any, ...]:
        """The parameters of an UPDATE of ``columns`` (``row``'s values, times converted)
        followed by the row's key values."""
        time_indexes = _time_indexes.get(columns)
        if time_indexes is None:
            time_indexes = _time_indexes[columns] = [
                i for i, c in enumerate(columns) if c in _EPOCH_COLUMNS]
        if not time_indexes:
            return (*map(row.__getitem__, columns), *key_values)
        values = list(map(row.__getitem__, columns))
        to_time = self.time
        for i in time_indexes:
            if values[i] is not None:
                values[i] = to_time(values[i])
        values.extend(key_values)
        return tuple(values)

    def execute(self, sql: str, params: Sequence[Tuple[Any, ...]], table_name: str) -> int:
        """executemany ``sql``; in salvage mode row by row. Returns the rows written."""
        if self.on_refused is None:
            self.conn.exec_driver_sql(sql, params)
            return len(params)
        written = 0
        for one in params:
            try:
                with self.conn.begin_nested():
                    self.conn.exec_driver_sql(sql, one)
                written += 1
            except (IntegrityError, DataError) as e:
                logger.error("monitoring: the database refused a %s row %r: %s", table_name,
                             one, str(e).splitlines()[0])
                self.on_refused(1, f"{table_name} row refused by the database")
        return written

    def update(self, table_name: str, columns: Tuple[str, ...],
               params: Sequence[Tuple[Any, ...]]) -> int:
        key = (self.name, "update:" + table_name, columns)
        sql = self._cache.get(key)
        if sql is None:
            sets = ", ".join(f"{self.quote(c)} = {self.mark}" for c in columns)
            where = " AND ".join(f"{self.quote(k)} = {self.mark}" for k in _KEYS[table_name])
            sql = f"UPDATE {self.quote(table_name)} SET {sets} WHERE {where}"
            self._cache[key] = sql
        return self.execute(sql, params, table_name)

"""The worker side of monitoring: task events and psutil resource samples, sent in batches.

HTEX workers load :func:`task_observer` through ``parsl_htex.worker.load_task_observer``
(the hub sets the executor's ``worker_task_observer``). Per task the observer appends a
``running`` event and, with resource monitoring on, a first sample; at the end a final
sample (always) and a ``running_ended`` event, both taken after the HTEX worker has
written the task's result (off the result's way to the manager) and dated when the task
ended. One daemon thread per worker process takes the periodic samples of a long task
every ``resource_monitoring_interval`` seconds and sends the buffered events every
``flush_period`` seconds as one batch: no process and no send per task, which is what
makes monitoring nearly free for short tasks.

With an interval above 0, a try starts by noting its CPU time (one ``os.times`` call); if
it is still running at the sender's next tick (at most ``flush_period`` later) the tick
takes its first sample, else it sends only its final sample, whose CPU percent still
covers the whole try. With interval 0 every try sends a first sample at its start and a
final one. These first and final samples are cheap on purpose, because they are taken
for every task: two system calls (``os.times``, ``getrusage``) and one read of
``/proc/self/statm``, tens of microseconds, where a full psutil sample costs 0.3-0.7 ms on a
loaded node, more than a short task itself. The periodic samples of a long task are full
psutil samples of the worker process (the task runs in it) and of its live children.
CPU times include children that have been waited for. CPU percent is computed from the
CPU-time delta between two samples of the same try; peak memory is the highest resident
size seen in the try.

Message shapes (tuples or lists, sent in batches encoded by
:mod:`parsl_monitoring.batches`):
``["running", htex_id, dfk_id, epoch, hostname, block_id, worker_id]``,
``["ended", htex_id, dfk_id, epoch, ok]``,
``["resource", htex_id, dfk_id, [values in parsl_monitoring.fields.SAMPLE_FIELDS order]]``.
"""
from __future__ import annotations

import atexit
import logging
import os
import resource
import signal
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from parsl_monitoring.batches import encode_batch
from parsl_monitoring.fields import SAMPLE_FIELDS
from parsl_monitoring.radios import Sender, _ResultChannelSender, make_sender

logger = logging.getLogger(__name__)


#: Fraction of the interval after which a tick takes the next periodic sample.
_TICK_SLACK = 0.9


class _Try:
    __slots__ = ("cpu", "dfk_id", "htex_id", "last_sample", "peak", "sampled", "started")

    def __init__(self, htex_id: int, dfk_id: Optional[int], now: float) -> None:
        self.htex_id = htex_id
        self.dfk_id = dfk_id
        self.started = now
        self.last_sample = now
        self.cpu = 0.0
        self.peak = 0.0
        #: Whether a sample of this try has been queued yet.
        self.sampled = False


class _BufferedEvents:
    """Events appended under a lock and sent as one batch by :meth:`flush`; a batch
    that cannot be sent goes back in front of the buffer for the next flush."""

    sender: Sender
    _buffer: List[Sequence[Any]]
    _lock: threading.Lock
    #: What the events are, for the warning when a batch cannot be sent.
    _what = "events"

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            self.sender.send(encode_batch(batch))
        except Exception as e:
            logger.warning("monitoring: could not send %d %s (%s); will retry",
                           len(batch), self._what, e)
            with self._lock:
                self._buffer[:0] = batch


class WorkerMonitor(_BufferedEvents):
    """A task observer for one worker process (see the module docstring)."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.sender: Sender = make_sender(config["radio"])
        interval = config.get("resource_interval")
        self.resources = interval is not None
        self.interval = float(interval or 0)
        self.flush_period = float(config.get("flush_period", 0.5))
        self.hostname = socket.gethostname()
        self.block_id = os.environ.get("PARSL_WORKER_BLOCK_ID", "")
        self.worker_id = (f"{os.environ.get('PARSL_WORKER_POOL_ID', '')}-"
                          f"{os.environ.get('PARSL_WORKER_RANK', os.getpid())}")
        self._buffer: List[Sequence[Any]] = []
        self._lock = threading.Lock()
        self._current: Optional[_Try] = None
        self._try = _Try(0, None, 0.0)
        self._process: Any = None
        self._statm: Optional[int] = None
        self._page_size = 4096
        self._total_memory = 1.0
        if self.resources:
            import psutil

            self._process = psutil.Process()
            self._pid = os.getpid()
            self._total_memory = float(psutil.virtual_memory().total)
            self._page_size = os.sysconf("SC_PAGE_SIZE")
            try:
                self._statm = os.open("/proc/self/statm", os.O_RDONLY)
            except OSError:
                self._statm = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="parsl-monitoring-worker")
        self._thread.start()
        atexit.register(self.close)
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGTERM)
            if previous in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, self._on_sigterm)

    # ------------------------------------------------------------------ observer interface

    def task_started(self, htex_task_id: int, dfk_task_id: Optional[int]) -> None:
        now = time.time()
        with self._lock:
            self._buffer.append(("running", htex_task_id, dfk_task_id, now, self.hostname,
                                 self.block_id, self.worker_id))
            if self.resources:
                # One _Try per worker, reset per try: a worker runs one try at a time.
                current = self._try
                current.htex_id = htex_task_id
                current.dfk_id = dfk_task_id
                current.started = current.last_sample = now
                current.peak = 0.0
                current.sampled = False
                if self.interval == 0:
                    current.cpu = 0.0
                    self._quick_sample(current, now, final=False)
                else:  # the first sample waits for the sender's tick (if the try lasts)
                    times = os.times()
                    current.cpu = times[0] + times[1] + times[2] + times[3]
                self._current = current

    def task_ended(self, htex_task_id: int, dfk_task_id: Optional[int], ok: bool,
                   ended: Optional[float] = None) -> None:
        """The try's final sample and its ``ended`` event, dated ``ended`` (the HTEX worker
        calls this after writing the result, with the time the task finished; other
        callers leave it out and the time is taken here)."""
        with self._lock:
            now = time.time() if ended is None else ended
            current = self._current
            self._current = None
            if current is not None:
                # A periodic sample the sender's tick took between the task's end and this
                # call carries a later time: the final sample, taken after it, is dated
                # no earlier, so a try's samples stay in time order.
                self._quick_sample(current, now if now >= current.last_sample
                                   else current.last_sample, final=True)
            self._buffer.append(("ended", htex_task_id, dfk_task_id, now, ok))

    def attach_result_channel(self, send: Any) -> bool:
        """Called by the HTEX worker: with the ``htex`` radio, batches go up its result
        pipe through ``send``; True tells the worker to guard that pipe with a lock."""
        if isinstance(self.sender, _ResultChannelSender):
            self.sender.channel = send
            return True
        return False

    # ------------------------------------------------------------------ sampling

    def _quick_sample(self, current: _Try, now: float, final: bool) -> None:
        """The cheap first/final sample (caller holds the lock); see the module docstring.

        Built as one flat tuple in SAMPLE_FIELDS order: this runs twice per try at
        interval 0 and once per short try otherwise, so it allocates nothing else.
        """
        if self._statm is None:
            self._sample(current, now, children=False, final=final)
            return
        try:
            times = os.times()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            vms_pages, rss_pages = os.pread(self._statm, 128, 0).split(None, 2)[:2]
        except OSError as e:
            logger.debug("quick resource sample failed: %s", e)
            return
        page = self._page_size
        rss = float(int(rss_pages) * page)
        user = times[0] + times[2]
        system = times[1] + times[3]
        cpu = user + system
        elapsed = now - current.last_sample
        percent = 100.0 * (cpu - current.cpu) / elapsed \
            if elapsed > 0 and current.cpu > 0 else 0.0
        peak = current.peak if current.peak > rss else rss
        current.cpu = cpu
        current.last_sample = now
        current.peak = peak
        current.sampled = True
        self._buffer.append(("resource", current.htex_id, current.dfk_id, (
            now, self.interval, self._pid, user, system, float(int(vms_pages) * page), rss,
            100.0 * rss / self._total_memory, "running", None, usage.ru_inblock * 512.0,
            usage.ru_oublock * 512.0, float(usage.ru_nvcsw), float(usage.ru_nivcsw), 0.0,
            final, percent, peak)))

    def _finish_sample(self, current: _Try, now: float, cpu_total: float, rss: float,
                       values: List[Any]) -> None:
        """Add CPU percent and peak memory to ``values`` and queue the sample."""
        if now > current.last_sample and current.cpu > 0:
            values.append(100.0 * (cpu_total - current.cpu) / (now - current.last_sample))
        else:
            values.append(0.0)
        current.cpu = cpu_total
        current.last_sample = now
        current.peak = max(current.peak, rss)
        values.append(current.peak)
        current.sampled = True
        self._buffer.append(["resource", current.htex_id, current.dfk_id, values])

    def _sample(self, current: _Try, now: float, children: bool, final: bool) -> None:
        """Append one resource sample of this process (caller holds the lock)."""
        p = self._process
        try:
            with p.oneshot():
                times = p.cpu_times()
                memory = p.memory_info()
                cpu_total = times.user + times.system + times.children_user \
                    + times.children_system
                row: Dict[str, Any] = {
                    "timestamp": now,
                    "resource_monitoring_interval": self.interval,
                    "psutil_process_pid": p.pid,
                    "psutil_process_time_user": times.user + times.children_user,
                    "psutil_process_time_system": times.system + times.children_system,
                    "psutil_process_memory_virtual": float(memory.vms),
                    "psutil_process_memory_resident": float(memory.rss),
                    "psutil_process_memory_percent": p.memory_percent(),
                    "psutil_process_status": p.status(),
                    "psutil_cpu_num": str(p.cpu_num()),
                    "final": final,
                }
                try:
                    io = p.io_counters()
                    row["psutil_process_disk_read"] = float(io.read_bytes)
                    row["psutil_process_disk_write"] = float(io.write_bytes)
                except (AttributeError, OSError):
                    pass
                switches = p.num_ctx_switches()
                row["psutil_process_num_ctx_switches_voluntary"] = float(switches.voluntary)
                row["psutil_process_num_ctx_switches_involuntary"] = \
                    float(switches.involuntary)
            rss = float(memory.rss)
            child_count = 0
            if children:
                for child in p.children(recursive=True):
                    try:
                        child_times = child.cpu_times()
                        cpu_total += child_times.user + child_times.system
                        rss += float(child.memory_info().rss)
                        child_count += 1
                    except Exception:  # the child may exit while we look
                        continue
                row["psutil_process_memory_resident"] = rss
            row["psutil_process_children_count"] = float(child_count)
        except Exception as e:  # psutil trouble must never fail the task
            logger.debug("resource sample failed: %s", e)
            return
        self._finish_sample(current, now, cpu_total, rss,
                            [row.get(name) for name in SAMPLE_FIELDS[:-2]])

    # ------------------------------------------------------------------ sending

    def _loop(self) -> None:
        tick = self.flush_period
        if self.resources and self.interval > 0:
            tick = min(tick, self.interval)
        # Ticks keep to a fixed schedule: a sample taken while a task holds the GIL can take
        # a good part of the interval, and waiting a full tick after it would stretch every
        # interval by that much.
        next_tick = time.monotonic() + tick
        while not self._stopped.wait(max(0.0, next_tick - time.monotonic())):
            next_tick = max(next_tick + tick, time.monotonic())
            if self.resources and self.interval > 0:
                with self._lock:
                    now = time.time()  # under the lock: before any final sample's time
                    current = self._current
                    if current is not None and not current.sampled:
                        # The try outlived a tick: its first sample, taken now.
                        self._quick_sample(current, now, final=False)
                    # Ticks are ``interval`` apart, so a strict comparison would skip every
                    # other tick whenever the thread wakes a hair early.
                    if current is not None and \
                            now - current.last_sample >= self.interval * _TICK_SLACK:
                        self._sample(current, now, children=True, final=False)
            self.flush()

    def close(self) -> None:
        self._stopped.set()
        self.flush()

    def _on_sigterm(self, signum: int, _frame: Any) -> None:
        self.close()
        raise SystemExit(128 + signum)


class ThreadTaskObserver(_BufferedEvents):
    """The observer of an executor whose tasks run on threads of the submitting process
    (ThreadPoolExecutor's ``task_observer``): ``running`` and ``running_ended`` events,
    no resource samples (as in Parsl), sent as one batch every ``flush_period`` through
    the executor's radio. Per task it costs two appends under a lock.

    Events name the try by the executor's task id (the DFK's is not known on the thread)
    and the worker by the thread's name.
    """

    _what = "thread task events"

    def __init__(self, sender: Sender, flush_period: float) -> None:
        self.sender = sender
        self.flush_period = flush_period
        self.hostname = socket.gethostname()
        self._buffer: List[Sequence[Any]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="parsl-monitoring-threads")
        self._thread.start()

    def task_started(self, executor_task_id: int, dfk_task_id: Optional[int]) -> None:
        event = ["running", executor_task_id, dfk_task_id, time.time(), self.hostname, None,
                 threading.current_thread().name]
        with self._lock:
            self._buffer.append(event)

    def task_ended(self, executor_task_id: int, dfk_task_id: Optional[int], ok: bool) -> None:
        event = ["ended", executor_task_id, dfk_task_id, time.time(), ok]
        with self._lock:
            self._buffer.append(event)

    def _loop(self) -> None:
        while not self._stopped.wait(self.flush_period):
            self.flush()

    def close(self) -> None:
        """Stop the sending thread and send what is buffered."""
        self._stopped.set()
        self._thread.join(max(5.0, 2 * self.flush_period))
        self.flush()


def task_observer(config: Dict[str, Any]) -> WorkerMonitor:
    """Factory named in the ``--task-observer`` token (see parsl_htex.worker)."""
    return WorkerMonitor(config)

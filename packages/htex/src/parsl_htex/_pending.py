"""The interchange's queue of tasks waiting for a manager, with Parsl's priorities.

A task whose resource specification has ``priority`` goes before every task without one;
among prioritized tasks the lower value goes first, and equal priorities keep their
arrival order (as Parsl's interchange orders them). Tasks without a priority keep a plain
FIFO deque, so the common case costs what it did before priorities existed.
"""
from __future__ import annotations

import collections
import heapq
import itertools
from typing import Deque, List, Optional, Sequence, Tuple

#: One task as the interchange holds it: its key and its whole record (header + payload).
Task = Tuple[bytes, memoryview]


class PendingTasks:
    __slots__ = ("_arrival", "_fifo", "_heap")

    def __init__(self) -> None:
        self._fifo: Deque[Task] = collections.deque()
        self._heap: List[Tuple[float, int, Task]] = []
        self._arrival = itertools.count()

    def __len__(self) -> int:
        return len(self._fifo) + len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._fifo) or bool(self._heap)

    def extend(self, tasks: Sequence[Task]) -> None:
        """Queue tasks without a priority, after all others."""
        self._fifo.extend(tasks)

    def extend_prioritized(self, priority: float, tasks: Sequence[Task]) -> None:
        for task in tasks:
            heapq.heappush(self._heap, (priority, next(self._arrival), task))

    def take(self, n: int) -> Tuple[List[Task], Optional[List[Optional[Tuple[float, int]]]]]:
        """Up to ``n`` tasks in dispatch order, and for each its place in the priority
        order (None for an unprioritized task; no list at all when none was prioritized)
        so :meth:`put_back` can restore it."""
        fifo, heap = self._fifo, self._heap
        if not heap:
            return [fifo.popleft() for _ in range(min(n, len(fifo)))], None
        batch: List[Task] = []
        places: List[Optional[Tuple[float, int]]] = []
        while heap and len(batch) < n:
            priority, arrival, task = heapq.heappop(heap)
            batch.append(task)
            places.append((priority, arrival))
        while fifo and len(batch) < n:
            batch.append(fifo.popleft())
            places.append(None)
        return batch, places

    def put_back(self, batch: Sequence[Task],
                 places: Optional[Sequence[Optional[Tuple[float, int]]]]) -> None:
        """Return a batch that could not be sent, each task to where it was."""
        if places is None:
            self._fifo.extendleft(reversed(batch))
            return
        unprioritized = [task for task, place in zip(batch, places) if place is None]
        self._fifo.extendleft(reversed(unprioritized))
        for task, place in zip(batch, places):
            if place is not None:
                heapq.heappush(self._heap, (place[0], place[1], task))

"""How the interchange orders managers when it hands out tasks.

The interchange calls ``sort_managers`` with the managers that can take tasks right now
and gives tasks to them in the returned order, so the first managers fill up first.
A selector is pickled into the interchange process, so it must be picklable.
"""
from __future__ import annotations

import random
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List

__all__ = ["BlockIdManagerSelector", "ManagerSelector", "RandomManagerSelector"]


class ManagerSelector(metaclass=ABCMeta):
    """Base class: order the ready managers for task dispatch."""

    @abstractmethod
    def sort_managers(self, ready_managers: List[bytes],
                      manager_info: Dict[bytes, Dict[str, Any]]) -> List[bytes]:
        """Return ``ready_managers`` (manager ids) in the order to fill them.

        ``manager_info`` maps each id to what the manager registered with (``block_id``,
        ``hostname``, ``worker_count``, ...) plus ``tasks`` (its running task count).
        """


class RandomManagerSelector(ManagerSelector):
    """Spread tasks evenly on average by shuffling the managers (Parsl's default)."""

    def sort_managers(self, ready_managers: List[bytes],
                      manager_info: Dict[bytes, Dict[str, Any]]) -> List[bytes]:
        if len(ready_managers) > 1:
            ready_managers = list(ready_managers)
            random.shuffle(ready_managers)
        return ready_managers


class BlockIdManagerSelector(ManagerSelector):
    """Fill managers of the highest-numbered block first.

    With ``htex_auto_scale`` this keeps older blocks idle, so they are the ones scaled in.
    """

    def sort_managers(self, ready_managers: List[bytes],
                      manager_info: Dict[bytes, Dict[str, Any]]) -> List[bytes]:
        def block_key(m: bytes) -> Any:
            block = str(manager_info[m].get("block_id", ""))
            return (0, int(block)) if block.isdigit() else (1, block)

        return sorted(ready_managers, key=block_key, reverse=True)

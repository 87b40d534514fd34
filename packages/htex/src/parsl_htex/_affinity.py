"""CPU pinning of workers (``cpu_affinity``), with the meaning Parsl gives it.

The manager works out each worker's CPUs once, at start, so a strategy that cannot be
honoured on a node fails the block with the reason instead of failing tasks later; the
executor checks the syntax of a ``list:`` strategy when it is constructed.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

__all__ = ["AFFINITY_STRATEGIES", "affinity_environment", "cpu_assignments", "parse_cpu_list"]

AFFINITY_STRATEGIES = ("none", "block", "alternating", "block-reverse")


def parse_cpu_list(policy: str) -> List[List[int]]:
    """Each worker's CPUs from ``list:0,1:2-3`` (``:`` between workers, ``,`` between
    CPUs, ``a-b`` for an inclusive range). Raises ValueError saying what is wrong."""
    groups: List[List[int]] = []
    body = policy[len("list:"):] if policy.lower().startswith("list:") else ""
    for text in body.split(":"):
        cpus: List[int] = []
        for part in text.split(","):
            bounds = part.strip().split("-")
            if len(bounds) > 2 or not all(b.strip().isdigit() for b in bounds):
                raise ValueError(f"cpu_affinity {policy!r}: {part!r} of worker {len(groups)} "
                                 "is not a CPU number or a range 'a-b'; expected e.g. "
                                 "'list:0,1:2-3' (':' between workers)")
            low, high = int(bounds[0]), int(bounds[-1])
            if high < low:
                raise ValueError(f"cpu_affinity {policy!r}: range {part!r} is empty")
            cpus.extend(range(low, high + 1))
        groups.append(cpus)
    return groups


def cpu_assignments(policy: str, worker_count: int, cpus: Sequence[int]) -> List[List[int]]:
    """The CPUs of each worker rank under ``policy`` (empty lists: no pinning).

    As Parsl does, all of ``cpus`` (what this node lets the manager use) are shared among
    the workers, ``len(cpus) // worker_count`` each: ``block`` gives worker 0 the first
    ones, ``block-reverse`` gives it the last ones, ``alternating`` gives worker ``r``
    every ``worker_count``-th CPU from the ``r``-th, and ``list:...`` spells out each
    worker's CPUs. Raises ValueError when the policy cannot be honoured on this node.
    """
    strategy = policy.lower()
    if strategy == "none":
        return [[] for _ in range(worker_count)]
    ordered = sorted(cpus)
    if strategy.startswith("list:"):
        groups = parse_cpu_list(policy)
        if len(groups) != worker_count:
            raise ValueError(f"cpu_affinity {policy!r} lists CPUs for {len(groups)} workers, "
                             f"but this node runs {worker_count} workers")
        unknown = sorted({c for g in groups for c in g} - set(ordered))
        if unknown:
            raise ValueError(f"cpu_affinity {policy!r} names CPUs {unknown} this node does "
                             f"not give the manager (it has {ordered})")
        return groups
    if strategy not in AFFINITY_STRATEGIES:
        raise ValueError(f"unknown cpu_affinity {policy!r}: expected one of "
                         f"{', '.join(AFFINITY_STRATEGIES)} or 'list:...'")
    per = len(ordered) // worker_count
    if per == 0:
        raise ValueError(f"cpu_affinity {policy!r} needs at least one CPU per worker, but "
                         f"this node runs {worker_count} workers on {len(ordered)} CPUs; "
                         "lower max_workers_per_node or use cpu_affinity='none'")
    if strategy == "alternating":
        return [ordered[r::worker_count] for r in range(worker_count)]
    slots = range(worker_count)
    if strategy == "block-reverse":
        slots = range(worker_count - 1, -1, -1)
    return [ordered[s * per:(s + 1) * per] for s in slots]


def affinity_environment(cpus: Sequence[int]) -> Dict[str, str]:
    """What a worker pinned to ``cpus`` is told, for OpenMP runtimes to follow the same
    pinning (the variables Parsl's workers set)."""
    listing = ",".join(map(str, cpus))
    return {"OMP_NUM_THREADS": str(len(cpus)),
            "GOMP_CPU_AFFINITY": listing,
            "KMP_AFFINITY": f"explicit,proclist=[{listing}]",
            "PARSL_CPU_AFFINITY": listing}

"""Where tasks run: CPU pinning of workers (cpu_affinity) and the manager selector.

Each worker reports the CPUs it may run on and its environment from inside a task.
"""
from __future__ import annotations

import os
import time
from typing import Dict, List, Tuple

import pytest
from htex_support import WORKER_INIT, wait_for

from parsl.providers import LocalProvider
from parsl_htex.manager_selector import BlockIdManagerSelector

CPUS = sorted(os.sched_getaffinity(0))

needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs at least 2 CPUs to pin to")


def rank_and_cpus(hold: float) -> Tuple[int, List[int]]:
    import os
    import time

    time.sleep(hold)
    return int(os.environ["PARSL_WORKER_RANK"]), sorted(os.sched_getaffinity(0))


def block_id() -> str:
    import os

    return os.environ["PARSL_WORKER_BLOCK_ID"]


def _cpus_by_rank(ex) -> Dict[int, List[int]]:
    """Run one task on each of the two workers at once and report each one's CPUs."""
    futures = [ex.submit(rank_and_cpus, {}, 1.0) for _ in range(2)]
    return dict(f.result(timeout=60) for f in futures)


def _expected(policy: str) -> Tuple[str, Dict[int, List[int]]]:
    """The cpu_affinity string and each rank's CPUs for two 1-core workers on this machine.

    Computed at test time, not import time: workers import this module too, each pinned to
    fewer CPUs.
    """
    if policy == "block":
        return policy, {0: CPUS[0:1], 1: CPUS[1:2]}
    if policy == "block-reverse":
        return policy, {0: CPUS[-1:], 1: CPUS[-2:-1]}
    if policy == "alternating":
        return policy, {0: CPUS[0::2][:1], 1: CPUS[1::2][:1]}
    return f"list:{CPUS[1]}:{CPUS[0]}", {0: CPUS[1:2], 1: CPUS[0:1]}


@needs_two_cpus
@pytest.mark.parametrize("policy", ["block", "block-reverse", "alternating", "list"])
def test_cpu_affinity_pins_each_worker_to_its_cpus(make_htex, policy):
    cpu_affinity, expected = _expected(policy)
    ex = make_htex(cpu_affinity=cpu_affinity, max_workers_per_node=2, cores_per_worker=1)
    assert _cpus_by_rank(ex) == expected


def openmp_view() -> Dict[str, object]:
    import os

    keys = ("OMP_NUM_THREADS", "GOMP_CPU_AFFINITY", "KMP_AFFINITY")
    return {"cpus": sorted(os.sched_getaffinity(0)), **{k: os.environ.get(k) for k in keys}}


@needs_two_cpus
def test_block_gives_a_lone_worker_every_cpu(make_htex):
    ex = make_htex(cpu_affinity="block", max_workers_per_node=1)
    assert ex.submit(rank_and_cpus, {}, 0).result(timeout=60) == (0, CPUS)


@needs_two_cpus
def test_pinned_workers_see_the_openmp_variables_parsl_sets(make_htex):
    ex = make_htex(cpu_affinity="block", max_workers_per_node=1)
    listing = ",".join(map(str, CPUS))
    assert ex.submit(openmp_view, {}).result(timeout=60) == {
        "cpus": CPUS, "OMP_NUM_THREADS": str(len(CPUS)), "GOMP_CPU_AFFINITY": listing,
        "KMP_AFFINITY": f"explicit,proclist=[{listing}]"}


@pytest.mark.slow
def test_cpu_affinity_the_node_cannot_honour_fails_the_block_saying_why(make_htex):
    ex = make_htex(cpu_affinity="list:0:0:0", max_workers_per_node=2)

    def failed() -> bool:
        ex.poll_facade()
        return ex.bad_state_is_set

    wait_for(failed, timeout=60, what="the block to be reported failed")
    assert "lists CPUs for 3 workers, but this node runs 2 workers" in str(
        ex.executor_exception)


def test_cpu_affinity_none_leaves_workers_on_every_cpu(make_htex):
    ex = make_htex(cpu_affinity="none", max_workers_per_node=2)
    assert _cpus_by_rank(ex) == {0: CPUS, 1: CPUS}


@pytest.mark.slow
def test_block_id_manager_selector_fills_the_newest_block_first(make_htex):
    ex = make_htex(manager_selector=BlockIdManagerSelector(), max_workers_per_node=1,
                   provider=LocalProvider(init_blocks=2, max_blocks=2, worker_init=WORKER_INIT),
                   scale_out=False)
    ex.scale_out_facade(2)
    wait_for(lambda: len(ex.connected_managers()) == 2, timeout=30, what="two managers")
    blocks = []
    for _ in range(5):
        blocks.append(ex.submit(block_id, {}).result(timeout=60))
        time.sleep(0.05)
    assert blocks == ["1"] * 5

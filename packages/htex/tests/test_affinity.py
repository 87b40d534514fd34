"""How cpu_affinity strategies share a node's CPUs among its workers (as Parsl does).

These pin nothing: they check the assignment for nodes of any size, which this 2-CPU
machine cannot show end to end (test_placement runs real pinned workers).
"""
from __future__ import annotations

import pytest

from parsl.errors import BadParameter
from parsl_htex._affinity import affinity_environment, cpu_assignments, parse_cpu_list
from parsl_htex.executor import HighThroughputExecutor


@pytest.mark.parametrize("policy, workers, cpus, expected", [
    ("block", 1, [0, 1], [[0, 1]]),
    ("block", 2, [0, 1, 2, 3], [[0, 1], [2, 3]]),
    ("block", 3, [0, 1, 2, 3, 4, 5, 6], [[0, 1], [2, 3], [4, 5]]),
    ("block-reverse", 2, [0, 1, 2, 3], [[2, 3], [0, 1]]),
    ("alternating", 2, [0, 1, 2, 3], [[0, 2], [1, 3]]),
    ("alternating", 2, [4, 5, 6, 7, 8], [[4, 6, 8], [5, 7]]),
    ("BLOCK", 2, [0, 1], [[0], [1]]),
    ("none", 2, [0, 1, 2, 3], [[], []]),
    ("list:0,1:2-3", 2, [0, 1, 2, 3], [[0, 1], [2, 3]]),
])
def test_strategy_shares_every_detected_cpu(policy, workers, cpus, expected):
    assert cpu_assignments(policy, workers, cpus) == expected


def test_more_workers_than_cpus_is_refused_with_advice():
    with pytest.raises(ValueError, match="3 workers on 2 CPUs"):
        cpu_assignments("block", 3, [0, 1])


def test_list_for_a_different_number_of_workers_is_refused():
    with pytest.raises(ValueError, match="for 2 workers, but this node runs 3"):
        cpu_assignments("list:0:1", 3, [0, 1, 2])


def test_list_naming_cpus_the_node_lacks_is_refused():
    with pytest.raises(ValueError, match=r"CPUs \[7\]"):
        cpu_assignments("list:0:7", 2, [0, 1])


@pytest.mark.parametrize("bad", ["list:0,x:1", "list:3-1", "list:", "list:0:1-2-3"])
def test_malformed_list_is_refused_naming_the_part(bad):
    with pytest.raises(ValueError, match="cpu_affinity"):
        parse_cpu_list(bad)


def test_executor_rejects_a_malformed_list_at_construction():
    with pytest.raises(BadParameter, match="cpu_affinity"):
        HighThroughputExecutor(cpu_affinity="list:0,a:1")


def test_openmp_variables_follow_the_pinning():
    assert affinity_environment([2, 3]) == {
        "OMP_NUM_THREADS": "2", "GOMP_CPU_AFFINITY": "2,3",
        "KMP_AFFINITY": "explicit,proclist=[2,3]", "PARSL_CPU_AFFINITY": "2,3"}

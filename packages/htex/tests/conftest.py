"""Fixtures that run a real HighThroughputExecutor on this machine.

Every executor here has a real interchange process, a real LocalProvider block with a
real manager and worker processes, all talking over loopback TCP and pipes.

Executors are encrypted (the default, TLS from the managers) unless a test says
otherwise; ``HTEX_TESTS_ENCRYPTED=0`` runs every such test over plain TCP without
TLS instead (the tests that need one or the other say so).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Iterator, List

import pytest

from parsl.providers.local.local import LocalProvider
from parsl_htex.executor import HighThroughputExecutor

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from htex_support import WORKER_INIT, htex_processes, wait_for  # noqa: E402

#: ``encrypted`` of the executors tests make without choosing (see the module docstring).
ENCRYPTED_BY_DEFAULT = os.environ.get("HTEX_TESTS_ENCRYPTED", "1") != "0"


@pytest.fixture
def make_htex(tmp_path: Any) -> Iterator[Callable[..., HighThroughputExecutor]]:
    """Build, start and scale out an executor; shut it down and check nothing is left."""
    made: List[HighThroughputExecutor] = []

    def factory(scale_out: bool = True, **kwargs: Any) -> HighThroughputExecutor:
        run_dir = str(tmp_path / f"run{len(made)}")
        os.makedirs(os.path.join(run_dir, "submit_scripts"), exist_ok=True)
        kwargs.setdefault("encrypted", ENCRYPTED_BY_DEFAULT)
        kwargs.setdefault("address", "127.0.0.1")
        kwargs.setdefault("max_workers_per_node", 2)
        kwargs.setdefault("heartbeat_period", 1)
        kwargs.setdefault("heartbeat_threshold", 4)
        kwargs.setdefault("provider", LocalProvider(init_blocks=1, max_blocks=1,
                                                   worker_init=WORKER_INIT))
        ex = HighThroughputExecutor(label="htex", **kwargs)
        ex.run_dir = run_dir
        ex.provider.script_dir = os.path.join(run_dir, "submit_scripts")
        made.append(ex)
        ex.start()
        if scale_out:
            ex.scale_out_facade(1)
        return ex

    yield factory
    for ex in made:
        ex.shutdown()
        wait_for(lambda ex=ex: not htex_processes(ex.run_dir, ex), timeout=20,
                 what="every HTEX process to exit after shutdown")

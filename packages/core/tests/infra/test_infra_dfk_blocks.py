"""A block-based executor loaded in a DFK: blocks start with the run and end with it."""
from __future__ import annotations

import os

import parsl
from parsl.config import Config
from parsl.jobs.states import JobState
from parsl.launchers.launchers import SimpleLauncher
from parsl.providers.local.local import LocalProvider


def test_dfk_launches_init_blocks_and_cleanup_cancels_them(block_executor_cls, run_dir, wait,
                                                           group_members) -> None:
    provider = LocalProvider(launcher=SimpleLauncher(), init_blocks=1, max_blocks=1)
    executor = block_executor_cls(provider, launch_cmd="sleep 300", label="blocks")
    dfk = parsl.load(Config(executors=[executor], run_dir=run_dir, strategy="simple",
                            strategy_period=0.1))
    try:
        job = int(executor.blocks_to_job_id["0"])
        wait(lambda: executor.status()["0"].state == JobState.RUNNING, what="block running")
        scripts = os.listdir(os.path.join(dfk.run_dir, "submit_scripts"))
        assert any(name.startswith("parsl.blocks.block-0") and name.endswith(".sh")
                   for name in scripts)
    finally:
        dfk.cleanup()

    assert group_members(job) == []


def test_block_state_changes_reach_the_block_status_hook(block_executor_cls, run_dir, wait):
    from parsl.plugins.hookspecs import hookimpl

    seen = []

    class BlockWatcher:
        @hookimpl
        def parsl_block_status_change(self, dfk, executor_label, changes):
            seen.extend((executor_label, block, status.state)
                        for block, status in changes.items())

    provider = LocalProvider(launcher=SimpleLauncher(), init_blocks=1, max_blocks=1)
    executor = block_executor_cls(provider, launch_cmd="sleep 300", label="watched")
    dfk = parsl.load(Config(executors=[executor], run_dir=run_dir, strategy="simple",
                            strategy_period=0.1, plugins=[BlockWatcher()]))
    try:
        wait(lambda: ("watched", "0", JobState.RUNNING) in seen, what="RUNNING reported")
    finally:
        dfk.cleanup()

"""Labels with spaces and shell-special characters work end to end; unusable ones are
refused at construction."""
from __future__ import annotations

import os

import pytest
from htex_support import WORKER_INIT, htex_processes, wait_for
from htex_test_tasks import add

import parsl
from parsl.config import Config
from parsl.errors import BadParameter
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

HOSTILE_LABEL = "my htex $HOME `true` 'q' \"dq\" ;&|*"


@pytest.mark.slow
def test_label_with_spaces_and_shell_characters_runs_tasks(tmp_path):
    ex = HighThroughputExecutor(label=HOSTILE_LABEL, address="127.0.0.1",
                                max_workers_per_node=1,
                                provider=LocalProvider(init_blocks=1, max_blocks=1,
                                                       worker_init=WORKER_INIT))
    run_dir = str(tmp_path / "run dir $x")
    with parsl.load(Config(executors=[ex], run_dir=run_dir, strategy="none")):
        assert parsl.python_app(add)(1, 2).result(timeout=60) == 3
        logdir = os.path.join(ex.run_dir, HOSTILE_LABEL)
        assert any(f == "manager.log" for _, _, fs in os.walk(logdir) for f in fs)
    wait_for(lambda: not htex_processes(ex.run_dir, ex), timeout=20, what="processes to exit")


@pytest.mark.parametrize("label", ["", "..", "a/b", "two\nlines", "tab\there"])
def test_label_that_cannot_name_a_folder_is_refused_naming_it(label):
    with pytest.raises(BadParameter, match="label") as info:
        HighThroughputExecutor(label=label)
    assert repr(label) in str(info.value)

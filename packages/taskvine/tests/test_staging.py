"""Which files a task sends and brings back, and the names it sees in the sandbox."""
from __future__ import annotations

from typing import Any

import pytest

from parsl.data_provider.files import File
from parsl_taskvine._staging import localize


def test_inputs_and_outputs_get_sandbox_names_and_originals_are_untouched(tmp_path: Any
                                                                         ) -> None:
    src = tmp_path / "data.csv"
    src.write_text("x")
    given_in, given_out = File(str(src)), File(str(tmp_path / "new" / "out.txt"))
    args, kwargs, inputs, outputs = localize((given_in,), {"outputs": [given_out]})
    assert inputs == [(str(src), "in0-data.csv")]
    assert outputs == [(str(tmp_path / "new" / "out.txt"), "out0-out.txt")]
    assert args[0].filepath == "in0-data.csv" and kwargs["outputs"][0].filepath == "out0-out.txt"
    assert given_in.local_path is None and given_out.local_path is None
    assert (tmp_path / "new").is_dir()


def test_bash_stdout_path_and_mode_tuple_keep_the_mode(tmp_path: Any) -> None:
    _, kwargs, _, outputs = localize((), {"stdout": (str(tmp_path / "log.txt"), "a"),
                                          "stderr": str(tmp_path / "err.txt")})
    assert kwargs["stdout"] == ("out0-log.txt", "a") and kwargs["stderr"] == "out1-err.txt"
    assert [local for local, _ in outputs] == [str(tmp_path / "log.txt"),
                                               str(tmp_path / "err.txt")]


def test_missing_input_file_is_named_before_submission(tmp_path: Any) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        localize((), {"inputs": [File(str(missing))]})

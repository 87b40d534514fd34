"""parsl.providers.errors keeps Parsl's attribute names, old ones with a warning."""
from __future__ import annotations

import pytest

from parsl.providers.errors import SubmitException


def test_submit_exception_task_name_is_the_job_name_with_a_deprecation_warning() -> None:
    err = SubmitException("block-7", "sbatch refused")
    with pytest.deprecated_call():
        assert err.task_name == "block-7"


def test_submit_exception_job_name_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    assert SubmitException("block-7", "sbatch refused").job_name == "block-7"
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]

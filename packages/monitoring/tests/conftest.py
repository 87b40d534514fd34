"""Fixtures for parsl-monitoring: a real PostgreSQL server and database URLs for both
backends (see monitoring_support.py)."""
from __future__ import annotations

import os
import sys
from typing import Any, Iterator

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    # Appended, not prepended: other packages' tests import their own helpers from a
    # module named ``conftest`` found first on sys.path; ours have unique names.
    sys.path.append(TESTS_DIR)

from monitoring_support import PostgresServer  # noqa: E402
from parsl_test_fixtures import _no_leftover_dfk  # noqa: E402,F401 - autouse fixture


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A fresh, empty monitoring database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/monitoring.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()



"""Helpers for the parsl-monitoring tests: a real PostgreSQL server, queries, configs.

The PostgreSQL server is a throwaway cluster made with the system's initdb and started
with pg_ctl on a free port of 127.0.0.1, as the unprivileged ``postgres`` user when the
tests run as root. A missing PostgreSQL is a setup failure, never a skip: run
``.ci/setup-postgresql.sh``.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from polling import (
    free_port,
    wait_for,  # noqa: F401 - re-exported for the tests
)

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ARTIFACTS = os.path.join(TESTS_DIR, "artifacts")


class PostgresServer:
    """A throwaway PostgreSQL cluster; ``new_database()`` gives each test its own database."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL server binaries not found under "
                               "/usr/lib/postgresql/*/bin; run .ci/setup-postgresql.sh")
        self.bindir = os.path.dirname(bins[-1])
        self.folder = tempfile.mkdtemp(prefix="parsl-monitoring-pg-")
        self.datadir = os.path.join(self.folder, "data")
        self.port = free_port()
        self.user: Optional[str] = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self._counter = itertools.count()
        self._run(["initdb", "-D", self.datadir, "-A", "trust", "-U", "postgres",
                   "--no-sync", "-E", "UTF8"], timeout=120)
        self.start()

    def _run(self, cmd: List[str], timeout: float) -> None:
        full = [os.path.join(self.bindir, cmd[0]), *cmd[1:]]
        if self.user is not None:
            full = ["runuser", "-u", self.user, "--", *full]
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(full)} failed ({proc.returncode}): "
                               f"{proc.stdout}{proc.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=50")
        self._run(["pg_ctl", "-D", self.datadir, "-o", options, "-l",
                   os.path.join(self.folder, "server.log"), "-w", "-t", "60", "start"],
                  timeout=90)

    def kill(self) -> None:
        """Stop the server abruptly (immediate mode: no clean shutdown), as a crash would."""
        self._run(["pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "-t", "30", "stop"],
                  timeout=60)

    def stop(self) -> None:
        try:
            self._run(["pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "-t", "30", "stop"],
                      timeout=60)
        except RuntimeError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        name = f"t{os.getpid()}_{next(self._counter)}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


def query(url: str, sql: str, **params: Any) -> List[Dict[str, Any]]:
    """Rows of ``sql`` (bound parameters) as dicts, through a fresh engine."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def query_when_ready(url: str, sql: str, **params: Any) -> List[Dict[str, Any]]:
    """Like :func:`query`, but no rows (instead of an error) while the tables do not exist."""
    try:
        return query(url, sql, **params)
    except sa.exc.DBAPIError:
        return []


def htex_config(run_dir: str, url: str, workers: int = 2, radio: Any = None,
                **hub_kwargs: Any) -> Any:
    """A config with one local HTEX block and monitoring into ``url``."""
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.monitoring import MonitoringHub
    from parsl.providers import LocalProvider

    hub_kwargs.setdefault("flush_period", 0.2)
    hub_kwargs.setdefault("database_retry_timeout", 5)
    executor = HighThroughputExecutor(
        label="htex", max_workers_per_node=workers, encrypted=False, heartbeat_period=2,
        heartbeat_threshold=10, remote_monitoring_radio=radio,
        provider=LocalProvider(init_blocks=1, min_blocks=0, max_blocks=1,
                               worker_init=f"export PYTHONPATH={TESTS_DIR}:${{PYTHONPATH:-}}"))
    return Config(executors=[executor], run_dir=run_dir, strategy="none", strategy_period=1,
                  monitoring=MonitoringHub(logging_endpoint=url, **hub_kwargs))


def threads_config(run_dir: str, url: Optional[str], **config_kwargs: Any) -> Any:
    from parsl.config import Config
    from parsl.executors import ThreadPoolExecutor
    from parsl.monitoring import MonitoringHub

    return Config(executors=[ThreadPoolExecutor(label="threads", max_threads=4)],
                  run_dir=run_dir,
                  monitoring=MonitoringHub(logging_endpoint=url, flush_period=0.2,
                                           database_retry_timeout=5),
                  **config_kwargs)

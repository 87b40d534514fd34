"""Fixtures that run real TaskVine and Work Queue managers, factories and workers.

The cctools build comes from, in order: ``PARSL_CCTOOLS_PREFIX`` (a cctools install
prefix, e.g. a conda environment with ndcctools), an ``ndcctools`` already importable
(a conda environment), or ``/var/cache/parsl-cctools/7.17.1``, where
``.ci/setup-cctools.sh`` builds the vendored sources. Finding none is an error, not a
skip: CI must have run the setup script.

Every manager binds a free port found here and workers connect to 127.0.0.1 (no catalog
server is reachable on these machines).
"""
from __future__ import annotations

import glob
import os
import sys
from typing import Any, Callable, Iterator, List

import pytest

DEFAULT_PREFIX = "/var/cache/parsl-cctools/7.17.1"
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
#: Core's shared test helpers (polling), which tv_helpers imports: workers that import a
#: test module need it too.
SUPPORT_DIR = os.path.normpath(os.path.join(TESTS_DIR, os.pardir, os.pardir, "core", "tests",
                                            "_support"))


def _use_prefix(prefix: str) -> None:
    sites = glob.glob(os.path.join(prefix, "lib", "python3*", "site-packages"))
    if not sites or not os.path.isdir(os.path.join(prefix, "bin")):
        raise RuntimeError(f"{prefix} is not a cctools install prefix (no bin/ or "
                           "lib/python3*/site-packages)")
    site = sites[0]
    if site not in sys.path:
        sys.path.insert(0, site)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (site, TESTS_DIR, SUPPORT_DIR, os.environ.get("PYTHONPATH", "")) if p)
    os.environ["PATH"] = os.pathsep.join((os.path.join(prefix, "bin"), os.environ["PATH"]))


def _locate_cctools() -> None:
    prefix = os.environ.get("PARSL_CCTOOLS_PREFIX")
    if prefix:
        _use_prefix(prefix)
        return
    try:
        import ndcctools.taskvine  # noqa: F401
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (TESTS_DIR, SUPPORT_DIR, os.environ.get("PYTHONPATH", "")) if p)
        return
    except ImportError:
        pass
    if os.path.isdir(DEFAULT_PREFIX):
        _use_prefix(DEFAULT_PREFIX)
        return
    raise RuntimeError("no cctools build found: run `bash .ci/setup-cctools.sh` (builds "
                       f"into {DEFAULT_PREFIX}), set PARSL_CCTOOLS_PREFIX to a cctools "
                       "prefix, or install ndcctools from conda-forge")


_locate_cctools()
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


@pytest.fixture
def run_dir(tmp_path: Any) -> str:
    return str(tmp_path / "runinfo")


@pytest.fixture
def load_config(run_dir: str) -> Iterator[Callable[..., Any]]:
    """Load a Config of the given executors into a DFK; clean it up afterwards."""
    import parsl
    from parsl.config import Config

    loaded: List[Any] = []

    def load(*executors: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("retries", 0)
        dfk = parsl.load(Config(executors=list(executors), run_dir=run_dir, **kwargs))
        loaded.append(dfk)
        return dfk

    yield load
    for dfk in loaded:
        dfk.cleanup()
    parsl.clear()

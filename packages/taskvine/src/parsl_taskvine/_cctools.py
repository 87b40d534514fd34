"""Finding cctools: the ndcctools Python modules and the worker and factory programs.

Users install ndcctools from conda-forge (PyPI does not carry it); a source build works
too once its ``site-packages`` is on ``PYTHONPATH``. Nothing here runs at ``import
parsl``: executors call these when they are constructed or started, and a missing piece
raises :class:`parsl.errors.OptionalModuleMissing` or ``FileNotFoundError`` saying what
to install or set.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
from types import ModuleType
from typing import Dict, Optional

INSTALL_HINT = ("install ndcctools from conda-forge (conda install -c conda-forge ndcctools), "
                "or put a cctools build's lib/python3.X/site-packages on PYTHONPATH and its "
                "bin/ on PATH; PyPI does not carry ndcctools")


def load(module: str, executor: str) -> ModuleType:
    """Import ``ndcctools.<module>`` or raise OptionalModuleMissing naming how to get it."""
    from parsl.errors import OptionalModuleMissing

    try:
        return importlib.import_module(f"ndcctools.{module}")
    except ImportError as e:
        raise OptionalModuleMissing(
            [f"ndcctools.{module}"],
            f"{executor} requires cctools' Python bindings ({type(e).__name__}: {e}); "
            f"{INSTALL_HINT}") from e


def _prefix_bin() -> Optional[str]:
    """``<prefix>/bin`` of the installed ndcctools (conda env or source build), if found."""
    try:
        spec = importlib.util.find_spec("ndcctools")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    package_dir = next(iter(spec.submodule_search_locations))
    candidate = os.path.abspath(os.path.join(package_dir, "..", "..", "..", "..", "bin"))
    return candidate if os.path.isdir(candidate) else None


def find_program(name: str, executor: str, parameter: str) -> str:
    """Path of the cctools program ``name`` (a bare name or a path), or FileNotFoundError.

    A bare name is looked up on PATH, then beside the installed ndcctools.
    """
    if os.sep in name:
        if os.access(name, os.X_OK):
            return name
        raise FileNotFoundError(f"{executor}: {parameter}={name!r} is not an executable file")
    found = shutil.which(name)
    if found is None:
        bin_dir = _prefix_bin()
        if bin_dir is not None:
            found = shutil.which(name, path=bin_dir)
    if found is None:
        raise FileNotFoundError(f"{executor}: cannot find the cctools program {name!r} "
                                f"({parameter}) on PATH nor beside ndcctools; {INSTALL_HINT}")
    return found


def child_environment(tag: Optional[str] = None) -> Dict[str, str]:
    """Environment for the manager, factory and workers this host starts.

    This interpreter's folder goes first on PATH so that workers' ``python3`` (regular
    tasks) and ``python`` (TaskVine libraries) are this Python, with parsl and cloudpickle;
    the folder of the cctools programs follows.
    """
    env = dict(os.environ)
    if tag is not None:
        env[RUN_TAG] = tag
    path = [os.path.dirname(sys.executable)]
    bin_dir = _prefix_bin()
    if bin_dir is not None:
        path.append(bin_dir)
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    site = [p for p in sys.path if p.endswith("site-packages") and
            os.path.isdir(os.path.join(p, "ndcctools"))]
    if site:
        env["PYTHONPATH"] = os.pathsep.join([*site, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


#: Environment variable carrying a run's tag to its manager process, factory, workers
#: and their tasks, so that whatever of the run is left on this host can be found.
RUN_TAG = "PARSL_TASKVINE_RUN_TAG"


def kill_tagged(tag: str) -> int:
    """SIGKILL every process of this host whose environment carries ``RUN_TAG=tag``.

    Workers start each task in its own process group, so killing a worker (or the
    factory's group) leaves running tasks behind; they are found by the tag their
    environment inherited. Returns how many were killed; never raises.
    """
    import signal

    needle = f"{RUN_TAG}={tag}".encode()
    killed = 0
    me = os.getpid()
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return 0
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            continue
    return killed

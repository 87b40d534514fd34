"""Ending what a stand-in started: both stand-ins run a block's processes in a process
group of their own, as an instance or a pod holds them."""
from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group (as an OS shutdown or a pod deletion does), SIGKILL what
    is left after ``grace`` seconds, and reap the leader."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # what outlived its leader
            except ProcessLookupError:
                pass
        break

"""Stand-ins for AWS in the tests: moto's EC2 server, and cloud-init on its instances.

moto's server mode is a real HTTP endpoint implementing the EC2 API (on 127.0.0.1; the
provider reaches it through ``AWS_ENDPOINT_URL``), but it never boots an instance. The
:class:`CloudInit` stand-in plays the part of cloud-init on every instance moto reports
running: it fetches the instance's user data through the EC2 API and runs it as a local
process in a session of its own, so the block's worker pool really starts and HTEX tasks
really run "on the instance". The process is killed when EC2 says the instance is
shutting down or terminated, and a ``shutdown``/``halt`` run by the user data ends the
instance the way EC2 does for the instance's shutdown behaviour (terminate or stop).
"""
from __future__ import annotations

import base64
import os
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

from standin_processes import stop_group


class _Boot:
    """One instance's user-data process."""

    def __init__(self, instance_id: str, proc: subprocess.Popen[bytes], folder: Path) -> None:
        self.instance_id = instance_id
        self.proc = proc
        self.folder = folder
        self.ended = False


class CloudInit:
    """Runs each new instance's user data as a local process; see the module docstring."""

    def __init__(self, client: Any, work_dir: Path, env: Optional[Dict[str, str]] = None,
                 period: float = 0.5) -> None:
        self.client = client
        self.work_dir = work_dir
        self.env = env
        self.period = period
        self.boots: Dict[str, _Boot] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: Failed polls of the EC2 endpoint (it may be reset or busy); for debugging.
        self.errors: List[str] = []
        self._shims = work_dir / "bin"
        self._shims.mkdir(parents=True, exist_ok=True)
        for name in ("shutdown", "halt", "poweroff"):
            shim = self._shims / name
            shim.write_text('#!/bin/bash\necho "$0 $*" > "$PARSL_STANDIN_HALTED"\n')
            shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        self._thread = threading.Thread(target=self._run, daemon=True, name="cloud-init")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self._step()
            except Exception as e:  # the endpoint may be reset or stopping
                self.errors.append(f"{type(e).__name__}: {e}")

    def _step(self) -> None:
        reply = self.client.describe_instances()
        states = {i["InstanceId"]: i["State"]["Name"]
                  for r in reply["Reservations"] for i in r["Instances"]}
        for instance_id, state in states.items():
            if state in ("pending", "running") and instance_id not in self._seen:
                self._seen.add(instance_id)
                self._boot(instance_id)
        with self._lock:
            boots = list(self.boots.values())
        for boot in boots:
            if boot.ended:
                continue
            state = states.get(boot.instance_id, "terminated")
            if state in ("shutting-down", "terminated", "stopping", "stopped"):
                boot.ended = True
                stop_group(boot.proc, 5.0)
            elif boot.proc.poll() is not None and (boot.folder / "halted").exists():
                boot.ended = True
                self._halt(boot.instance_id)

    def _boot(self, instance_id: str) -> None:
        attribute = self.client.describe_instance_attribute(InstanceId=instance_id,
                                                            Attribute="userData")
        encoded = attribute.get("UserData", {}).get("Value")
        if not encoded:
            return
        folder = self.work_dir / instance_id
        folder.mkdir(parents=True)
        script = folder / "user-data"
        script.write_bytes(base64.b64decode(encoded))
        env = dict(self.env if self.env is not None else os.environ)
        env["PATH"] = f"{self._shims}{os.pathsep}{env.get('PATH', '')}"
        env["PARSL_STANDIN_HALTED"] = str(folder / "halted")
        env["PARSL_STANDIN_INSTANCE_ID"] = instance_id
        with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
            proc = subprocess.Popen(["/bin/bash", str(script)], cwd=folder, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
        with self._lock:
            self.boots[instance_id] = _Boot(instance_id, proc, folder)

    def _halt(self, instance_id: str) -> None:
        """What EC2 does when the OS halts: apply the instance's shutdown behaviour."""
        behaviour = self.client.describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")
        if behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate":
            self.client.terminate_instances(InstanceIds=[instance_id])
        else:
            self.client.stop_instances(InstanceIds=[instance_id])

    def output(self, instance_id: str) -> str:
        boot = self.boots.get(instance_id)
        if boot is None:
            return ""
        return (boot.folder / "stdout").read_text() + (boot.folder / "stderr").read_text()

    def live_processes(self) -> List[int]:
        with self._lock:
            return [b.proc.pid for b in self.boots.values() if b.proc.poll() is None]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        with self._lock:
            boots = list(self.boots.values())
        for boot in boots:
            stop_group(boot.proc, 5.0)

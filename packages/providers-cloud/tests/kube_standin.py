"""A stand-in Kubernetes API server for the tests: the pod endpoints, with local processes.

No Kubernetes API server can run on the test machines, so this HTTP server on 127.0.0.1
implements the part of the core/v1 API the provider calls - create, list (with label
selectors), read and delete pods in a namespace - answering with the API's JSON objects
and its ``Status`` errors: 401 without the kube config's bearer token, 403 in a forbidden
namespace, 404 for an unknown namespace or pod, 409 for a name already taken and 422 for
an invalid pod. The real ``kubernetes`` client talks to it through a kube config file.

Instead of scheduling a container, each created pod's command runs as a local process
in a session of its own (the "kubelet" part): its phase follows the process (Running,
then Succeeded or Failed with the exit code), ``activeDeadlineSeconds`` ends it with
reason ``DeadlineExceeded``, and deleting the pod stops its whole process group before
the pod disappears, as a kubelet does.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlparse

from standin_processes import stop_group

TOKEN = "standin-token"
_POD_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMAGE = re.compile(r"^[a-z0-9]+([._/:@-][a-zA-Z0-9]+)*$")
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]i?)?$")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_object(code: int, reason: str, message: str,
                  details: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A ``v1.Status`` failure object as the API server sends with an error code."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": details or {}, "code": code}


class StandInPod:
    """A pod object and the local process standing in for its container."""

    def __init__(self, manifest: Dict[str, Any], proc: Optional[subprocess.Popen[bytes]],
                 log_dir: Path) -> None:
        self.manifest = manifest
        self.proc = proc
        self.log_dir = log_dir
        self.started = time.monotonic()
        self.deleting = False

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def phase(self) -> str:
        return str(self.manifest["status"]["phase"])


class StandInKubeAPI:
    """The server and its state; tests read ``pods`` and steer failures through it."""

    def __init__(self, work_dir: Path, namespaces: Tuple[str, ...] = ("default", "parsl"),
                 env: Optional[Dict[str, str]] = None) -> None:
        self.work_dir = work_dir
        self.namespaces: Set[str] = set(namespaces)
        self.forbidden: Set[str] = set()
        self.env = env
        self.conflict_next_create = False
        self._all_procs: List[subprocess.Popen[bytes]] = []
        self._pods: Dict[Tuple[str, str], StandInPod] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                api._dispatch(self, "GET")

            def do_POST(self) -> None:
                api._dispatch(self, "POST")

            def do_DELETE(self) -> None:
                api._dispatch(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._threads = [threading.Thread(target=self.server.serve_forever, daemon=True,
                                          name="kube-standin-http"),
                         threading.Thread(target=self._kubelet, daemon=True,
                                          name="kube-standin-kubelet")]
        for thread in self._threads:
            thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": TOKEN}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin",
                                                         "user": "tester",
                                                         "namespace": namespace}}]}))
        return path

    # -- what tests inspect and do -----------------------------------------------------

    def pods(self, namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        """Manifests (with status) of the pods that exist now."""
        with self._lock:
            return [json.loads(json.dumps(p.manifest)) for (ns, _), p in self._pods.items()
                    if namespace is None or ns == namespace]

    def pod(self, name: str, namespace: str = "default") -> Dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._pods[(namespace, name)].manifest))

    def pod_log(self, name: str, namespace: str = "default") -> str:
        with self._lock:
            pod = self._pods.get((namespace, name))
        if pod is None:
            return ""
        return (pod.log_dir / "stdout").read_text() + (pod.log_dir / "stderr").read_text()

    def running_processes(self) -> List[int]:
        """Pids of pod processes (any pod, even deleted ones) still alive."""
        with self._lock:
            procs = list(self._all_procs)
        return [p.pid for p in procs if p.poll() is None]

    def delete_outside_parsl(self, name: str, namespace: str = "default") -> None:
        """Remove a pod as ``kubectl delete pod --grace-period=0 --force`` would."""
        with self._lock:
            pod = self._pods.pop((namespace, name))
        if pod.proc is not None:
            stop_group(pod.proc, 0)

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            pods = list(self._pods.values())
            self._pods.clear()
            procs = list(self._all_procs)
        del pods
        for proc in procs:
            stop_group(proc, 5)

    # -- HTTP --------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(handler.path)
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(handler, 401, status_object(401, "Unauthorized", "Unauthorized"))
            return
        match = _POD_PATH.match(url.path)
        if match is None:
            self._send(handler, 404, status_object(404, "NotFound",
                                                   "the server could not find the requested "
                                                   "resource"))
            return
        namespace, name = match.group(1), match.group(2)
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        verb = {"GET": "list" if name is None else "get", "POST": "create",
                "DELETE": "delete"}[method]
        if namespace in self.forbidden:
            self._send(handler, 403, status_object(
                403, "Forbidden",
                f'pods is forbidden: User "system:serviceaccount:parsl:tester" cannot {verb} '
                f'resource "pods" in API group "" in the namespace "{namespace}"',
                {"kind": "pods", "name": name or ""}))
            return
        if namespace not in self.namespaces:
            self._send(handler, 404, status_object(404, "NotFound",
                                                   f'namespaces "{namespace}" not found',
                                                   {"name": namespace, "kind": "namespaces"}))
            return
        if verb == "create":
            code, answer = self._create(namespace, body or {})
        elif verb == "list":
            selector = parse_qs(url.query).get("labelSelector", [""])[0]
            code, answer = 200, self._list(namespace, selector)
        elif verb == "get":
            code, answer = self._get(namespace, str(name))
        else:
            code, answer = self._delete(namespace, str(name))
        self._send(handler, code, answer)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, answer: Dict[str, Any]) -> None:
        data = json.dumps(answer).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _create(self, namespace: str, manifest: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        name = str(manifest.get("metadata", {}).get("name", ""))
        problems = self._invalid(name, manifest)
        if problems:
            return 422, status_object(422, "Invalid",
                                      f'Pod "{name}" is invalid: ' + ", ".join(problems),
                                      {"name": name, "kind": "Pod"})
        with self._lock:
            if (namespace, name) in self._pods or self.conflict_next_create:
                self.conflict_next_create = False
                return 409, status_object(409, "AlreadyExists",
                                          f'pods "{name}" already exists',
                                          {"name": name, "kind": "pods"})
            container = manifest["spec"]["containers"][0]
            manifest["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()),
                                        creationTimestamp=_now(), resourceVersion="1")
            manifest["status"] = {"phase": "Pending", "qosClass": "Burstable"}
            log_dir = self.work_dir / namespace / name
            log_dir.mkdir(parents=True)
            env = dict(self.env if self.env is not None else os.environ)
            env.update({e["name"]: e.get("value", "") for e in container.get("env") or []})
            env["HOSTNAME"] = name
            argv = list(container.get("command") or []) + list(container.get("args") or [])
            image = str(container["image"])
            if not _IMAGE.match(image):
                # The kubelet cannot parse the image reference: the container never starts.
                (log_dir / "stdout").write_bytes(b"")
                (log_dir / "stderr").write_bytes(b"")
                self._pods[(namespace, name)] = StandInPod(manifest, None, log_dir)
                manifest["status"]["containerStatuses"] = [self._container_status(
                    container, {"waiting": {
                        "reason": "InvalidImageName",
                        "message": f'Failed to apply default image tag "{image}": couldn\'t '
                                   f'parse image name "{image}": invalid reference format'}})]
                return 201, json.loads(json.dumps(manifest))
            with open(log_dir / "stdout", "wb") as out, open(log_dir / "stderr", "wb") as err:
                proc = subprocess.Popen(argv, cwd=log_dir, env=env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=err, start_new_session=True)
            self._all_procs.append(proc)
            pod = StandInPod(manifest, proc, log_dir)
            self._pods[(namespace, name)] = pod
            manifest["status"] = {"phase": "Running", "qosClass": "Burstable",
                                  "startTime": _now(),
                                  "containerStatuses": [self._container_status(
                                      container, {"running": {"startedAt": _now()}})]}
            return 201, json.loads(json.dumps(manifest))

    @staticmethod
    def _container_status(container: Dict[str, Any], state: Dict[str, Any]) -> Dict[str, Any]:
        return {"name": container["name"], "image": container["image"],
                "imageID": f"standin://{container['image']}", "ready": "running" in state,
                "restartCount": 0, "started": "running" in state, "state": state}

    @staticmethod
    def _invalid(name: str, manifest: Dict[str, Any]) -> List[str]:
        problems = []
        if not name:
            problems.append("metadata.name: Required value: name or generateName is required")
        elif len(name) > 253 or not _SUBDOMAIN.match(name):
            problems.append(f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 '
                            "subdomain must consist of lower case alphanumeric characters, "
                            "'-' or '.'")
        containers = manifest.get("spec", {}).get("containers") or []
        if not containers:
            problems.append("spec.containers: Required value")
        for i, container in enumerate(containers):
            if not container.get("image"):
                problems.append(f"spec.containers[{i}].image: Required value")
            resources = container.get("resources") or {}
            for kind in ("limits", "requests"):
                for key, value in (resources.get(kind) or {}).items():
                    if not _QUANTITY.match(str(value)):
                        problems.append(f"spec.containers[{i}].resources.{kind}[{key}]: "
                                        f'Invalid value: "{value}": quantities must match '
                                        "the regular expression")
        return problems

    def _list(self, namespace: str, selector: str) -> Dict[str, Any]:
        wanted = _parse_selector(selector)
        with self._lock:
            items = [json.loads(json.dumps(p.manifest))
                     for (ns, _), p in self._pods.items()
                     if ns == namespace and _matches(p.manifest, wanted)]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                "items": items}

    def _get(self, namespace: str, name: str) -> Tuple[int, Dict[str, Any]]:
        with self._lock:
            pod = self._pods.get((namespace, name))
            if pod is None:
                return 404, status_object(404, "NotFound", f'pods "{name}" not found',
                                          {"name": name, "kind": "pods"})
            return 200, json.loads(json.dumps(pod.manifest))

    def _delete(self, namespace: str, name: str) -> Tuple[int, Dict[str, Any]]:
        with self._lock:
            pod = self._pods.get((namespace, name))
            if pod is None:
                return 404, status_object(404, "NotFound", f'pods "{name}" not found',
                                          {"name": name, "kind": "pods"})
            grace = int(pod.manifest["spec"].get("terminationGracePeriodSeconds") or 30)
            pod.manifest["metadata"]["deletionTimestamp"] = _now()
            pod.manifest["metadata"]["deletionGracePeriodSeconds"] = grace
            pod.deleting = True
            answer = json.loads(json.dumps(pod.manifest))
        threading.Thread(target=self._terminate, args=(namespace, name, pod, grace),
                         daemon=True).start()
        return 200, answer

    def _terminate(self, namespace: str, name: str, pod: StandInPod, grace: int) -> None:
        if pod.proc is not None:
            stop_group(pod.proc, grace)
        with self._lock:
            if self._pods.get((namespace, name)) is pod:
                del self._pods[(namespace, name)]

    # -- "kubelet" ---------------------------------------------------------------------

    def _kubelet(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                pods = list(self._pods.values())
            for pod in pods:
                self._observe(pod)

    def _observe(self, pod: StandInPod) -> None:
        if pod.phase not in ("Pending", "Running") or pod.proc is None:
            return
        deadline = pod.manifest["spec"].get("activeDeadlineSeconds")
        code = pod.proc.poll()
        if code is None and deadline and time.monotonic() - pod.started > deadline \
                and not pod.deleting:
            stop_group(pod.proc, 0)
            with self._lock:
                pod.manifest["status"].update(
                    phase="Failed", reason="DeadlineExceeded",
                    message="Pod was active on the node longer than the specified deadline")
            return
        if code is None:
            return
        container = pod.manifest["spec"]["containers"][0]
        exit_code = code if code >= 0 else 128 - code
        terminated = {"exitCode": exit_code, "reason": "Completed" if code == 0 else "Error",
                      "startedAt": pod.manifest["status"].get("startTime"),
                      "finishedAt": _now()}
        with self._lock:
            pod.manifest["status"].update(
                phase="Succeeded" if code == 0 else "Failed",
                containerStatuses=[self._container_status(container,
                                                          {"terminated": terminated})])


def _parse_selector(selector: str) -> List[Tuple[str, Set[str]]]:
    """``k=v`` and ``k in (a,b)`` terms of a label selector, as (key, allowed values)."""
    terms = []
    for match in re.finditer(r"\s*([\w./-]+)\s*(?:in\s*\(([^)]*)\)|==?\s*([\w.-]*))\s*,?",
                             selector):
        key, choices, value = match.groups()
        values = {v.strip() for v in choices.split(",")} if choices is not None else {value}
        terms.append((key, values))
    return terms


def _matches(manifest: Dict[str, Any], wanted: List[Tuple[str, Set[str]]]) -> bool:
    labels = manifest["metadata"].get("labels") or {}
    return all(labels.get(key) in values for key, values in wanted)

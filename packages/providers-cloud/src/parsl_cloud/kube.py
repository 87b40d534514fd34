"""KubernetesProvider: each block is one pod running the executor's worker command.

A pod is created per block with the ``parsl-job-id`` label, CPU and memory limits and
requests, an optional security context, persistent volume claims and image pull secret,
``restartPolicy: Never`` (a finished worker pool must not be restarted behind the
executor's back) and, with ``walltime``, ``activeDeadlineSeconds`` so Kubernetes itself
ends a block that outlives it.

``status`` lists this provider's pods in one call by label. Pod phases map to JobState;
a pod that no longer exists is reported MISSING with a message saying so, never as
still running. Every call to the API server is bounded by ``api_timeout`` and is not
retried, so an unreachable API server cannot hang the DFK: a failed creation becomes a
failed block carrying the API's message, and a failed poll keeps the last known states
and logs which blocks could not be polled.

The ``kubernetes`` package is imported when a provider is constructed, never by
``import parsl``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from parsl._validation import validate_init
from parsl.errors import BadParameter, ConfigurationError
from parsl.jobs.states import JobState, JobStatus
from parsl.providers.base import ExecutionProvider, validate_block_parameters
from parsl.providers.errors import SubmitException
from parsl_cloud._common import block_of, check_api_timeout, walltime_seconds

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Api, V1Pod

logger = logging.getLogger(__name__)

__all__ = ["KubernetesProvider"]

#: Label carrying the provider's job id on every pod it creates.
JOB_ID_LABEL = "parsl-job-id"

_PHASES = {
    "Pending": JobState.PENDING,
    "Running": JobState.RUNNING,
    "Succeeded": JobState.COMPLETED,
    "Failed": JobState.FAILED,
    "Unknown": JobState.UNKNOWN,
}

#: Reasons a container can wait for that no retry fixes. A pod waiting for one of them
#: is reported FAILED (and deleted) instead of leaving its block pending forever.
PERMANENT_WAITING_REASONS = frozenset({"InvalidImageName", "ErrImageNeverPull",
                                       "CreateContainerConfigError"})

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]i?)?$")
_MAX_POD_NAME = 253


def sanitize_pod_name(name: str) -> str:
    """``name`` made a valid Kubernetes object name (RFC 1123 subdomain), or ``"parsl"``.

    Lower-cases it, turns every other character into ``-``, and trims what may not start
    or end a name, so user-chosen ``pod_name`` values and executor job names both work.
    """
    text = re.sub(r"[^a-z0-9.-]+", "-", name.lower())
    text = re.sub(r"-*\.+-*", ".", text)
    text = text.strip(".-")
    return text or "parsl"


class _Pod:
    """What the provider knows about one block's pod."""

    __slots__ = ("job_id", "job_name", "pod_name", "status")

    def __init__(self, job_id: str, job_name: str, pod_name: str) -> None:
        self.job_id = job_id
        self.job_name = job_name
        self.pod_name = pod_name
        self.status = JobStatus(JobState.PENDING)


class KubernetesProvider(ExecutionProvider):
    """Run blocks as Kubernetes pods, with the parameters of Parsl's KubernetesProvider.

    Parameters
    ----------
    image:
        Container image of the worker pods; it must have Parsl installed.
    namespace:
        Namespace in which pods are created.
    nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy. A block is
        one pod.
    max_cpu, max_mem, init_cpu, init_mem:
        CPU and memory limits (``max_*``) and requests (``init_*``) of each pod.
    extra_limits, extra_requests:
        Further resource limits and requests, e.g. ``{"nvidia.com/gpu": "1"}``.
    worker_init:
        Shell commands run in the pod before the worker command.
    pod_name:
        Prefix of pod names (made valid for Kubernetes); default: the executor's job name.
    user_id, group_id, run_as_non_root:
        Security context of the container (set when both ids are given).
    secret:
        Name of the image pull secret; no pull secret is set when it is None.
    persistent_volumes:
        ``(claim name, mount path)`` pairs mounted in each pod.
    service_account_name, annotations:
        Service account the pods run as, and annotations put on them.
    walltime:
        ``HH:MM:SS`` after which Kubernetes ends the pod (``activeDeadlineSeconds``); the
        block is then reported as TIMEOUT. None (the default, as in Parsl) sets no limit.
    api_timeout:
        Seconds any single call to the API server may take.

    The Kubernetes configuration is read at construction from ``$KUBECONFIG`` or
    ``~/.kube/config``, falling back to the in-cluster service account; when neither
    works a ConfigurationError says what was tried and why it failed.
    """

    @validate_init
    def __init__(self,
                 image: str,
                 namespace: str = "default",
                 nodes_per_block: int = 1,
                 init_blocks: int = 4,
                 min_blocks: int = 0,
                 max_blocks: int = 10,
                 max_cpu: Union[int, float] = 2,
                 max_mem: str = "500Mi",
                 init_cpu: Union[int, float] = 1,
                 init_mem: str = "250Mi",
                 extra_requests: Optional[Dict[str, str]] = None,
                 extra_limits: Optional[Dict[str, str]] = None,
                 parallelism: Union[int, float] = 1,
                 worker_init: str = "",
                 pod_name: Optional[str] = None,
                 user_id: Optional[Union[str, int]] = None,
                 group_id: Optional[Union[str, int]] = None,
                 run_as_non_root: bool = False,
                 secret: Optional[str] = None,
                 persistent_volumes: Optional[List[Tuple[str, str]]] = None,
                 service_account_name: Optional[str] = None,
                 annotations: Optional[Dict[str, str]] = None,
                 walltime: Optional[str] = None,
                 api_timeout: Union[int, float] = 30) -> None:
        owner = type(self).__name__
        validate_block_parameters(owner, nodes_per_block, init_blocks, min_blocks,
                                  max_blocks, parallelism, 1)
        if not image.strip():
            raise BadParameter(owner, "image", image, "a container image name")
        if not _DNS_LABEL.match(namespace):
            raise BadParameter(owner, "namespace", namespace,
                               "a Kubernetes namespace name (lower-case letters, digits and "
                               "'-', at most 63 characters)")
        for name, cpu in (("max_cpu", max_cpu), ("init_cpu", init_cpu)):
            if cpu <= 0:
                raise BadParameter(owner, name, cpu, "a number of CPUs > 0")
        for name, mem in (("max_mem", max_mem), ("init_mem", init_mem)):
            if not _QUANTITY.match(mem):
                raise BadParameter(owner, name, mem,
                                   "a Kubernetes memory quantity such as '500Mi' or '2Gi'")
        for name, ident in (("user_id", user_id), ("group_id", group_id)):
            if ident is not None and not str(ident).isdigit():
                raise BadParameter(owner, name, ident, "a numeric Unix id")
        self.deadline_seconds = walltime_seconds(owner, walltime)
        check_api_timeout(owner, api_timeout)

        self.label = "kubernetes"
        self.image = image
        self.namespace = namespace
        self.nodes_per_block = nodes_per_block
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.max_cpu = max_cpu
        self.max_mem = max_mem
        self.init_cpu = init_cpu
        self.init_mem = init_mem
        self.extra_requests: Dict[str, str] = dict(extra_requests or {})
        self.extra_limits: Dict[str, str] = dict(extra_limits or {})
        self.parallelism = parallelism
        self.worker_init = worker_init
        self.pod_name = pod_name
        self.user_id = user_id
        self.group_id = group_id
        self.run_as_non_root = run_as_non_root
        self.secret = secret
        self.persistent_volumes: List[Tuple[str, str]] = list(persistent_volumes or [])
        self.service_account_name = service_account_name
        self.annotations = annotations
        self.walltime = walltime
        self.api_timeout = api_timeout
        self.resources: Dict[str, Dict[str, Any]] = {}
        self._pods: Dict[str, _Pod] = {}
        self._lock = threading.Lock()
        self._status_polling_interval = 60
        self.api_client: ApiClient = _load_api_client()
        from kubernetes.client import CoreV1Api
        self.kube_client: CoreV1Api = CoreV1Api(self.api_client)

    @property
    def status_polling_interval(self) -> int:
        """Seconds between status polls (60, as in Parsl; settable)."""
        return self._status_polling_interval

    @status_polling_interval.setter
    def status_polling_interval(self, seconds: int) -> None:
        self._status_polling_interval = seconds

    # -- submit --------------------------------------------------------------------------

    def submit(self, cmd_string: str, tasks_per_node: int, job_name: str = "parsl.kube") -> str:
        """Create one pod running ``worker_init`` then ``cmd_string`` (Parsl's parameter
        name); return its job id.

        Raises SubmitException with the API server's own message when it refuses the pod
        (403 forbidden, 404 no such namespace, 409 name taken, 422 invalid pod) or cannot
        be reached within ``api_timeout``.
        """
        job_id = uuid.uuid4().hex[:10]
        prefix = sanitize_pod_name(self.pod_name or job_name)
        prefix = prefix[:_MAX_POD_NAME - len(job_id) - 1].rstrip(".-")
        pod_name = f"{prefix}-{job_id}"
        pod = self._pod_manifest(pod_name, job_id, f"{self.worker_init}\n{cmd_string}\n")
        logger.debug("Creating pod %s in namespace %s for %s", pod_name, self.namespace,
                     job_name)
        try:
            self.kube_client.create_namespaced_pod(namespace=self.namespace, body=pod,
                                                   _request_timeout=self.api_timeout)
        except Exception as e:
            reason = api_error_text(e)
            logger.error("Could not create pod %s for %s (%s) in namespace %s: %s", pod_name,
                         block_of(job_name), job_name, self.namespace, reason)
            raise SubmitException(job_name, f"Kubernetes refused pod {pod_name} in namespace "
                                  f"{self.namespace}: {reason}") from e
        record = _Pod(job_id, job_name, pod_name)
        with self._lock:
            self._pods[job_id] = record
            self.resources[job_id] = {"job_id": job_id, "job_name": job_name,
                                      "pod_name": pod_name, "status": record.status}
        logger.info("Created pod %s (job %s) for %s", pod_name, job_id, block_of(job_name))
        return job_id

    def _pod_manifest(self, pod_name: str, job_id: str, script: str) -> V1Pod:
        from kubernetes import client

        security_context = None
        if self.user_id is not None and self.group_id is not None:
            security_context = client.V1SecurityContext(
                run_as_user=int(self.user_id), run_as_group=int(self.group_id),
                run_as_non_root=self.run_as_non_root)
        resources = client.V1ResourceRequirements(
            limits={"cpu": str(self.max_cpu), "memory": self.max_mem, **self.extra_limits},
            requests={"cpu": str(self.init_cpu), "memory": self.init_mem,
                      **self.extra_requests})
        container = client.V1Container(
            name="parsl-worker", image=self.image, command=["/bin/bash", "-c"],
            args=[script], resources=resources, security_context=security_context,
            env=[client.V1EnvVar(name="PARSL_KUBERNETES_JOB_ID", value=job_id)],
            volume_mounts=[client.V1VolumeMount(name=claim, mount_path=path)
                           for claim, path in self.persistent_volumes] or None)
        spec = client.V1PodSpec(
            containers=[container], restart_policy="Never",
            active_deadline_seconds=self.deadline_seconds,
            service_account_name=self.service_account_name,
            image_pull_secrets=([client.V1LocalObjectReference(name=self.secret)]
                                if self.secret else None),
            volumes=[client.V1Volume(name=claim,
                                     persistent_volume_claim=client.
                                     V1PersistentVolumeClaimVolumeSource(claim_name=claim))
                     for claim, _ in self.persistent_volumes] or None)
        metadata = client.V1ObjectMeta(name=pod_name, labels={JOB_ID_LABEL: job_id},
                                       annotations=self.annotations or None)
        return client.V1Pod(api_version="v1", kind="Pod", metadata=metadata, spec=spec)

    # -- status --------------------------------------------------------------------------

    def status(self, job_ids: List[Any]) -> List[JobStatus]:
        """Each job's state from its pod's phase, polled in one list call.

        A pod that has disappeared is MISSING (terminal); a pod ended by its walltime is
        TIMEOUT. When the API server cannot be polled the last known states are returned
        and the failure is logged with the blocks concerned.
        """
        with self._lock:
            live = [self._pods[str(j)] for j in job_ids
                    if str(j) in self._pods and not self._pods[str(j)].status.terminal]
            stuck = self._poll(live) if live else []
            statuses = [self._pods[str(j)].status if str(j) in self._pods
                        else JobStatus(JobState.MISSING, f"KubernetesProvider knows no job {j!r}")
                        for j in job_ids]
        for record in stuck:
            logger.error("Deleting pod %s of %s: it can never start (%s)", record.pod_name,
                         block_of(record.job_name), record.status.message)
            self._delete(record)
        return statuses

    def _poll(self, live: List[_Pod]) -> List[_Pod]:
        """Refresh ``live`` from one list call; return the pods that can never start."""
        selector = f"{JOB_ID_LABEL} in ({','.join(p.job_id for p in live)})"
        try:
            listing = self.kube_client.list_namespaced_pod(
                namespace=self.namespace, label_selector=selector,
                _request_timeout=self.api_timeout)
        except Exception as e:
            logger.warning("Could not poll the pods of %s in namespace %s; keeping their last "
                           "known states: %s",
                           ", ".join(f"{block_of(p.job_name)} (pod {p.pod_name})" for p in live),
                           self.namespace, api_error_text(e))
            return []
        stuck = []
        found: Dict[Optional[str], Any] = {}
        for pod in listing.items or []:
            labels = (pod.metadata.labels or {}) if pod.metadata else {}
            found[labels.get(JOB_ID_LABEL)] = pod
        for record in live:
            item = found.get(record.job_id)
            if item is None:
                new = JobStatus(JobState.MISSING,
                                f"pod {record.pod_name} no longer exists in namespace "
                                f"{self.namespace}: it was deleted outside Parsl")
            else:
                new = pod_job_status(item)
                if new.state is JobState.FAILED and item.status.phase == "Pending":
                    stuck.append(record)
            if new != record.status:
                logger.info("Pod %s of %s is now %s", record.pod_name, block_of(record.job_name),
                            new)
            record.status = new
            self.resources[record.job_id]["status"] = new
        return stuck

    # -- cancel --------------------------------------------------------------------------

    def cancel(self, job_ids: List[Any]) -> List[bool]:
        """Delete each job's pod; True for pods deleted or already gone, False otherwise.

        When the API server cannot be reached, the remaining pods are not tried (and
        reported False): cancelling many blocks then costs one ``api_timeout``, not one
        per pod, so a DFK shutting down against a dead API server stays bounded.
        """
        results = []
        unreachable: Optional[str] = None
        for job_id in job_ids:
            with self._lock:
                record = self._pods.get(str(job_id))
            if record is None:
                logger.warning("Asked to cancel unknown Kubernetes job %r", job_id)
                results.append(False)
                continue
            if unreachable is not None:
                logger.error("Not deleting pod %s of %s: the API server is unreachable (%s)",
                             record.pod_name, block_of(record.job_name), unreachable)
                results.append(False)
                continue
            deleted, unreachable = self._delete(record)
            results.append(deleted)
        return results

    def _delete(self, record: _Pod) -> Tuple[bool, Optional[str]]:
        """Delete one pod: (whether it is gone, why the API server is unreachable if so)."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.kube_client.delete_namespaced_pod(name=record.pod_name,
                                                   namespace=self.namespace,
                                                   _request_timeout=self.api_timeout)
        except ApiException as e:
            if e.status != 404:
                logger.error("Could not delete pod %s of %s: %s", record.pod_name,
                             block_of(record.job_name), api_error_text(e))
                return False, None
            logger.info("Pod %s of %s was already gone", record.pod_name,
                        block_of(record.job_name))
        except Exception as e:
            reason = api_error_text(e)
            logger.error("Could not delete pod %s of %s: %s", record.pod_name,
                         block_of(record.job_name), reason)
            return False, reason
        else:
            logger.info("Deleted pod %s of %s", record.pod_name, block_of(record.job_name))
        with self._lock:
            if not record.status.terminal:
                record.status = JobStatus(JobState.CANCELLED,
                                          f"pod {record.pod_name} deleted by the provider")
                self.resources[record.job_id]["status"] = record.status
        return True, None


def pod_job_status(pod: Any) -> JobStatus:
    """The JobStatus of a pod object: its phase, and why it ended when it did."""
    status = pod.status
    phase = (status.phase if status else None) or "Unknown"
    state = _PHASES.get(phase, JobState.UNKNOWN)
    reason = status.reason if status else None
    detail = status.message if status else None
    exit_code = None
    for container in (status.container_statuses or []) if status else []:
        terminated = container.state.terminated if container.state else None
        if terminated is not None:
            exit_code = terminated.exit_code
            reason = reason or terminated.reason
            detail = detail or terminated.message
        waiting = container.state.waiting if container.state else None
        if waiting is not None and state is JobState.PENDING:
            reason = reason or waiting.reason
            detail = detail or waiting.message
            if waiting.reason in PERMANENT_WAITING_REASONS:
                state = JobState.FAILED
    if state is JobState.FAILED and reason == "DeadlineExceeded":
        state = JobState.TIMEOUT
    parts = [f"pod phase {phase}"]
    if reason:
        parts.append(f"reason {reason}")
    if detail:
        parts.append(detail)
    if exit_code is not None:
        parts.append(f"exit code {exit_code}")
    message = ", ".join(parts) if (reason or detail or exit_code) else None
    return JobStatus(state, message, exit_code=exit_code)


def api_error_text(error: BaseException) -> str:
    """The API server's own words for a failed call: code, reason and Status message."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, ApiException):
        message = None
        try:
            body = json.loads(error.body) if error.body else None
            if isinstance(body, dict):
                message = body.get("message")
        except ValueError:
            message = error.body
        text = f"HTTP {error.status} {error.reason}"
        return f"{text}: {message}" if message else text
    return f"{type(error).__name__}: {error}"


def _load_api_client() -> ApiClient:
    """An ApiClient from the kube config file, or else the in-cluster service account.

    The configuration is private to this provider (the kubernetes package's global
    default is left alone) and makes no retries: the provider bounds each call itself.
    """
    from kubernetes import client, config

    configuration = client.Configuration()
    path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        # The kubernetes package reads $KUBECONFIG once, at import; read it at each use.
        config.load_kube_config(config_file=path,  # type: ignore[no-untyped-call]
                                client_configuration=configuration, persist_config=False)
    except Exception as file_error:
        try:
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration)
        except Exception as cluster_error:
            raise ConfigurationError(
                "KubernetesProvider: no usable Kubernetes configuration. Kube config file "
                f"{path}: {type(file_error).__name__}: {file_error}; in-cluster "
                f"configuration: {cluster_error}. Point KUBECONFIG at a valid kube config "
                "or run inside a pod with a service account.") from file_error
        logger.info("KubernetesProvider uses the in-cluster configuration (no usable kube "
                    "config at %s: %s)", path, file_error)
    configuration.retries = False
    return client.ApiClient(configuration)

"""KubernetesProvider through the real ``kubernetes`` client against the stand-in API server.

No Kubernetes API server can run on the test machines: ``kube_api`` (see kube_standin)
implements the pod endpoints the provider calls with the API's objects and Status errors
and runs each pod's command as a local process, so what the pod does really happens.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from parsl.errors import BadParameter, ConfigurationError
from parsl.jobs.states import JobState
from parsl.providers.errors import SubmitException
from parsl_cloud.kube import KubernetesProvider, sanitize_pod_name


def unreachable_kubeconfig(folder: Path, url: str) -> Path:
    """A kube config whose cluster is ``url`` (a server that never answers)."""
    config = folder / "unreachable-kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    return config


def pod_of(provider: KubernetesProvider, job_id: str) -> str:
    return str(provider.resources[job_id]["pod_name"])


def test_pod_runs_worker_init_then_command_and_completes(kube_api, tmp_path, wait):
    provider = KubernetesProvider(image="parsl:test", worker_init=f"echo init > {tmp_path}/a")
    # Parsl's keyword names for KubernetesProvider.submit.
    job = provider.submit(cmd_string=f"cat {tmp_path}/a > {tmp_path}/b; echo ran >> {tmp_path}/b",
                          tasks_per_node=1, job_name="parsl.htex.block-0.1")

    status = wait(lambda: (s := provider.status([job])[0]).terminal and s, timeout=30,
                  what="the pod to finish")

    assert status.state is JobState.COMPLETED and status.exit_code == 0
    assert (tmp_path / "b").read_text() == "init\nran\n"


def test_pod_carries_job_label_resources_security_context_volumes_and_secret(kube_api):
    provider = KubernetesProvider(
        image="parsl:test", namespace="parsl", max_cpu=3, max_mem="2Gi", init_cpu=0.5,
        init_mem="1Gi", extra_limits={"nvidia.com/gpu": "1"},
        extra_requests={"ephemeral-storage": "1Gi"}, user_id="1000", group_id="100",
        run_as_non_root=True, secret="registry-key", persistent_volumes=[("data", "/data")],
        service_account_name="parsl-sa", annotations={"team": "science"})
    job = provider.submit("sleep 30", 1, "parsl.htex.block-0.1")

    pod = kube_api.pod(pod_of(provider, job), namespace="parsl")
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert pod["metadata"]["labels"] == {"parsl-job-id": job}
    assert pod["metadata"]["annotations"] == {"team": "science"}
    assert container["resources"] == {
        "limits": {"cpu": "3", "memory": "2Gi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "0.5", "memory": "1Gi", "ephemeral-storage": "1Gi"}}
    assert container["securityContext"] == {"runAsUser": 1000, "runAsGroup": 100,
                                            "runAsNonRoot": True}
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert spec["volumes"] == [{"name": "data",
                                "persistentVolumeClaim": {"claimName": "data"}}]
    assert spec["imagePullSecrets"] == [{"name": "registry-key"}]
    assert spec["serviceAccountName"] == "parsl-sa"
    assert spec["restartPolicy"] == "Never"
    provider.cancel([job])


def test_pod_has_no_image_pull_secret_or_security_context_unless_given(kube_api):
    provider = KubernetesProvider(image="parsl:test")
    job = provider.submit("sleep 30", 1, "parsl.htex.block-0.1")

    pod = kube_api.pod(pod_of(provider, job))

    assert "imagePullSecrets" not in pod["spec"]
    assert "securityContext" not in pod["spec"]["containers"][0]
    provider.cancel([job])


@pytest.mark.parametrize("prefix", ["My_Pod Name!", "parsl.htex.block-0.1732790000.123",
                                    "-x-" * 120, "___"])
def test_pod_names_are_valid_kubernetes_names_whatever_the_prefix(kube_api, prefix):
    provider = KubernetesProvider(image="parsl:test", pod_name=prefix)
    job = provider.submit("true", 1, "parsl.htex.block-0.1")

    name = pod_of(provider, job)

    assert kube_api.pod(name)["metadata"]["name"] == name
    assert len(name) <= 253 and name.endswith(job)


def test_sanitized_name_keeps_what_kubernetes_allows():
    assert sanitize_pod_name("Parsl.HTEX.block-0") == "parsl.htex.block-0"
    assert sanitize_pod_name("__") == "parsl"


def test_failed_pod_is_failed_with_its_exit_code(kube_api, wait):
    provider = KubernetesProvider(image="parsl:test")
    job = provider.submit("exit 3", 1, "parsl.htex.block-0.1")

    status = wait(lambda: (s := provider.status([job])[0]).terminal and s, timeout=30,
                  what="the pod to fail")

    assert status.state is JobState.FAILED and status.exit_code == 3
    assert "exit code 3" in str(status.message)


def test_pod_whose_image_name_cannot_be_parsed_fails_and_is_deleted(kube_api, wait):
    """Kubernetes accepts the pod but its container can never start (InvalidImageName):
    the block fails with the kubelet's reason instead of staying pending forever."""
    provider = KubernetesProvider(image="Not A Valid/Image")
    job = provider.submit("true", 1, "parsl.htex.block-0.1")

    status = provider.status([job])[0]

    assert status.state is JobState.FAILED
    assert "InvalidImageName" in str(status.message)
    assert "invalid reference format" in str(status.message)
    wait(lambda: not kube_api.pods(), timeout=30, what="the stuck pod to be deleted")


def test_pod_deleted_outside_parsl_is_missing_not_running(kube_api):
    provider = KubernetesProvider(image="parsl:test")
    job = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")
    assert provider.status([job])[0].state is JobState.RUNNING

    kube_api.delete_outside_parsl(pod_of(provider, job))
    status = provider.status([job])[0]

    assert status.state is JobState.MISSING
    assert pod_of(provider, job) in str(status.message)
    assert "deleted outside Parsl" in str(status.message)


def test_cancel_deletes_the_pod_and_stops_its_processes(kube_api, wait):
    provider = KubernetesProvider(image="parsl:test")
    job = provider.submit("sleep 60 & sleep 60; wait", 1, "parsl.htex.block-0.1")
    wait(kube_api.running_processes, what="the pod's process to start")

    assert provider.cancel([job]) == [True]

    assert provider.status([job])[0].state is JobState.CANCELLED
    wait(lambda: not kube_api.pods(), timeout=30, what="the pod to be deleted")
    assert kube_api.running_processes() == []


def test_cancel_of_a_pod_already_gone_is_accepted(kube_api):
    provider = KubernetesProvider(image="parsl:test")
    job = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")
    kube_api.delete_outside_parsl(pod_of(provider, job))

    assert provider.cancel([job]) == [True]


def test_pod_past_its_walltime_is_timeout(kube_api, wait):
    provider = KubernetesProvider(image="parsl:test", walltime="00:00:01")
    job = provider.submit("sleep 60", 1, "parsl.htex.block-0.1")

    status = wait(lambda: (s := provider.status([job])[0]).terminal and s, timeout=30,
                  what="the pod's deadline to pass")

    assert kube_api.pod(pod_of(provider, job))["spec"]["activeDeadlineSeconds"] == 1
    assert status.state is JobState.TIMEOUT
    assert "DeadlineExceeded" in str(status.message)


def test_forbidden_namespace_fails_submission_with_the_api_message(kube_api):
    kube_api.forbidden.add("parsl")
    provider = KubernetesProvider(image="parsl:test", namespace="parsl")

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "parsl.htex.block-0.1")

    assert "HTTP 403" in str(info.value)
    assert 'cannot create resource "pods"' in str(info.value)


def test_unknown_namespace_fails_submission_with_the_api_message(kube_api):
    provider = KubernetesProvider(image="parsl:test", namespace="nowhere")

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "parsl.htex.block-0.1")

    assert "HTTP 404" in str(info.value) and 'namespaces "nowhere" not found' in str(info.value)


def test_name_already_taken_fails_submission_with_the_api_message(kube_api):
    """The stand-in answers the next creation with 409, as the API server does when a pod
    of that name exists (pod names are unique per submission, so this is the rare race
    of two clients creating the same name)."""
    kube_api.conflict_next_create = True
    provider = KubernetesProvider(image="parsl:test")

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "parsl.htex.block-0.1")

    assert "HTTP 409" in str(info.value) and "already exists" in str(info.value)


def test_invalid_pod_fails_submission_with_the_api_message(kube_api):
    provider = KubernetesProvider(image="parsl:test", extra_limits={"cpu": "lots"})

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "parsl.htex.block-0.1")

    assert "HTTP 422" in str(info.value)
    assert 'resources.limits[cpu]: Invalid value: "lots"' in str(info.value)


def test_kube_config_is_read_from_the_home_folder_without_kubeconfig(kube_api, tmp_path,
                                                                      monkeypatch):
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    kube_api.write_kubeconfig(tmp_path / "home" / ".kube" / "config")
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    provider = KubernetesProvider(image="parsl:test")
    job = provider.submit("true", 1, "parsl.htex.block-0.1")

    assert kube_api.pod(pod_of(provider, job))["metadata"]["labels"] == {"parsl-job-id": job}


def test_without_kube_config_the_in_cluster_service_account_is_used(tmp_path, monkeypatch):
    """Inside a pod the client reads the service account token and CA certificate from
    fixed paths; the test points the kubernetes package's constants for those paths at
    files in the test folder."""
    import kubernetes.config.incluster_config as incluster

    (tmp_path / "token").write_text("in-cluster-token")
    (tmp_path / "ca.crt").write_text("not checked until a connection is made")
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))

    provider = KubernetesProvider(image="parsl:test")

    configuration = provider.api_client.configuration
    assert configuration.host == "https://10.96.0.1:443"
    assert "in-cluster-token" in str(configuration.api_key)


def test_missing_kube_config_is_a_clear_error_at_construction(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(ConfigurationError) as info:
        KubernetesProvider(image="parsl:test")

    assert str(tmp_path / "absent") in str(info.value)
    assert "in-cluster" in str(info.value)


def test_broken_kube_config_is_a_clear_error_at_construction(tmp_path, monkeypatch):
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: [}\n")
    monkeypatch.setenv("KUBECONFIG", str(broken))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(ConfigurationError) as info:
        KubernetesProvider(image="parsl:test")

    assert str(broken) in str(info.value)


@pytest.mark.parametrize("field, value", [("namespace", "Not_Valid"), ("max_mem", "lots"),
                                          ("init_cpu", 0), ("user_id", "root"),
                                          ("walltime", "soon"), ("api_timeout", 0)])
def test_bad_parameter_is_named_at_construction(kube_api, field, value):
    with pytest.raises(BadParameter) as info:
        KubernetesProvider(image="parsl:test", **{field: value})

    assert info.value.parameter == field


def test_unreachable_api_server_fails_submission_within_the_timeout(black_hole, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(unreachable_kubeconfig(tmp_path, black_hole.url)))
    provider = KubernetesProvider(image="parsl:test", api_timeout=1)

    started = time.monotonic()
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1, "parsl.htex.block-3.1")

    assert time.monotonic() - started < 20
    assert "timed out" in str(info.value).lower()


def test_status_poll_that_fails_keeps_last_state_and_logs_the_block(kube_api, caplog):
    provider = KubernetesProvider(image="parsl:test", api_timeout=1)
    job = provider.submit("sleep 60", 1, "parsl.htex.block-7.1")
    assert provider.status([job])[0].state is JobState.RUNNING
    kube_api.forbidden.add("default")

    with caplog.at_level("WARNING", logger="parsl_cloud.kube"):
        status = provider.status([job])[0]

    assert status.state is JobState.RUNNING
    assert "block-7" in caplog.text and "HTTP 403" in caplog.text
    kube_api.forbidden.clear()
    provider.cancel([job])


def test_cancel_against_an_unreachable_api_server_costs_one_timeout_not_one_per_pod(
        kube_api, black_hole, tmp_path, monkeypatch):
    """Pods are created through the stand-in; then a provider whose kube config points at
    a server that never answers takes over their bookkeeping, as if the API server had
    become unreachable in the middle of a run."""
    creator = KubernetesProvider(image="parsl:test")
    jobs = [creator.submit("sleep 60", 1, f"parsl.htex.block-{n}.1") for n in range(3)]
    monkeypatch.setenv("KUBECONFIG", str(unreachable_kubeconfig(tmp_path, black_hole.url)))
    provider = KubernetesProvider(image="parsl:test", api_timeout=1)
    provider._pods, provider.resources = creator._pods, creator.resources

    assert provider.cancel(jobs) == [False, False, False]

    assert black_hole.connections == 1
    assert not any(s.terminal for s in provider.status(jobs))


def test_unknown_job_id_is_missing(kube_api):
    provider = KubernetesProvider(image="parsl:test")

    assert provider.status(["nope"])[0].state is JobState.MISSING
    assert provider.cancel(["nope"]) == [False]


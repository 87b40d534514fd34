"""HighThroughputExecutor blocks on the cloud providers, end to end through parsl.load.

Every test runs once per provider against its stand-in (see conftest): Kubernetes pods
are local processes started by the stand-in API server; EC2 instances are moto
instances whose user data the cloud-init stand-in runs as local processes, and which it
ends when moto says they are terminated. So the worker pools really start, connect to
the interchange on 127.0.0.1 and run the tasks, and what the provider leaves behind is
visible in the stand-in's pod list or moto's instance list and in the process table.

Tasks that must stay busy while a test looks at the blocks wait for a gate file the
test creates, so no timing is guessed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import pytest

import parsl
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor
from parsl.jobs.states import JobState

pytestmark = pytest.mark.slow

parsl_htex = pytest.importorskip("parsl_htex")


@parsl.python_app
def wait_for_gate(gate: str, bound: float = 150) -> str:
    """Block until file ``gate`` exists (bounded); return the worker's block id."""
    deadline = time.monotonic() + bound
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} did not open within {bound} s")
        time.sleep(0.1)
    return os.environ["PARSL_WORKER_BLOCK_ID"]


@parsl.python_app
def where_am_i() -> str:
    return os.environ["PARSL_WORKER_BLOCK_ID"]


class Cloud:
    """One provider on its stand-in: how to build it and what is still alive there."""

    def __init__(self, name: str, make: Callable[..., Any], live_blocks: Callable[[], List[str]],
                 processes: Callable[[], List[int]]) -> None:
        self.name = name
        self.make = make
        self.live_blocks = live_blocks
        self.processes = processes


@pytest.fixture(params=["kubernetes", "aws"])
def cloud(request: pytest.FixtureRequest) -> Cloud:
    if request.param == "kubernetes":
        from parsl_cloud.kube import KubernetesProvider

        api = request.getfixturevalue("kube_api")

        def live_pods() -> List[str]:
            return [p["metadata"]["name"] for p in api.pods()
                    if p["status"]["phase"] in ("Pending", "Running")]

        return Cloud("kubernetes",
                     lambda **kw: KubernetesProvider(image="parsl:test", api_timeout=60, **kw),
                     live_pods, api.running_processes)
    from parsl_cloud.aws import AWSProvider

    ec2 = request.getfixturevalue("ec2")
    return Cloud("aws",
                 lambda **kw: AWSProvider(image_id=ec2.IMAGE, key_name="parsl-test",
                                          api_timeout=60, **kw),
                 ec2.live_instances, ec2.cloud_init.live_processes)


class Run:
    """A loaded DFK with one HTEX on a cloud provider (and optionally a thread executor)."""

    def __init__(self, tmp_path: Path, provider: Any, strategy: str, max_idletime: float,
                 with_threads: bool = False) -> None:
        provider.status_polling_interval = 1
        self.provider = provider
        self.executor = parsl_htex.HighThroughputExecutor(
            label="cloud", provider=provider, address="127.0.0.1", max_workers_per_node=1,
            heartbeat_period=2, heartbeat_threshold=10)
        executors: List[Any] = [self.executor]
        if with_threads:
            executors.append(ThreadPoolExecutor(label="threads"))
        self.dfk = parsl.load(Config(executors=executors, run_dir=str(tmp_path / "runinfo"),
                                     strategy=strategy, strategy_period=0.5,
                                     max_idletime=max_idletime))
        self._cleaned = False

    def busy_blocks(self) -> set[str]:
        return {str(m["block_id"]) for m in self.executor.connected_managers() if m["tasks"]}

    def cleanup(self) -> None:
        if not self._cleaned:
            self._cleaned = True
            try:
                self.dfk.cleanup()
            finally:
                parsl.clear()


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    runs: List[Run] = []

    def start(provider: Any, **kwargs: Any) -> Run:
        run = Run(tmp_path, provider, **kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.cleanup()


def test_scales_out_to_two_blocks_and_back_in_under_htex_auto_scale(cloud, start_run,
                                                                   tmp_path, wait):
    run = start_run(cloud.make(init_blocks=1, min_blocks=1, max_blocks=2),
                    strategy="htex_auto_scale", max_idletime=2)
    gate = tmp_path / "gate"
    futures = [wait_for_gate(str(gate)) for _ in range(2)]

    wait(lambda: run.busy_blocks() == {"0", "1"}, timeout=120,
         what="a second block to start and each block to hold one task")
    assert len(cloud.live_blocks()) == 2
    gate.touch()
    assert {f.result(timeout=60) for f in futures} == {"0", "1"}

    wait(lambda: len(cloud.live_blocks()) == 1, timeout=90,
         what="the idle block beyond min_blocks to be removed")
    status = run.executor.status()
    scaled_in = [b for b, js in status.items() if js.state is JobState.SCALED_IN]
    kept = [b for b, js in status.items() if not js.terminal]
    assert len(scaled_in) == 1 and len(kept) == 1, status
    assert where_am_i().result(timeout=60) == kept[0]


def test_cleanup_leaves_no_block_and_no_process(cloud, start_run, wait):
    run = start_run(cloud.make(init_blocks=2, min_blocks=0, max_blocks=2),
                    strategy="simple", max_idletime=120)
    assert where_am_i().result(timeout=120) in {"0", "1"}
    wait(lambda: len(cloud.live_blocks()) == 2, timeout=60, what="both blocks to run")

    run.cleanup()

    wait(lambda: not cloud.live_blocks(), timeout=60, what="every block to be removed")
    wait(lambda: not cloud.processes(), timeout=60, what="every block process to exit")


def test_block_reaching_walltime_is_timeout_and_fails_its_task_naming_it(cloud, start_run,
                                                                          tmp_path, wait):
    run = start_run(cloud.make(init_blocks=1, min_blocks=0, max_blocks=1,
                               walltime="00:00:08"),
                    strategy="none", max_idletime=120)
    future = wait_for_gate(str(tmp_path / "never-opened"))
    wait(lambda: run.busy_blocks() == {"0"}, timeout=60, what="the task to start")

    error = future.exception(timeout=120)
    status = wait(lambda: (js := run.executor.status()["0"]).terminal and js, timeout=60,
                  what="the executor to see the block end")

    assert status.state is JobState.TIMEOUT
    assert error is not None and "block 0" in str(error) and "TIMEOUT" in str(error)


def test_unreachable_api_fails_the_executors_tasks_and_other_executors_keep_running(
        cloud, start_run, black_hole, monkeypatch, tmp_path):
    if cloud.name == "aws":
        monkeypatch.setenv("AWS_ENDPOINT_URL", black_hole.url)
    else:
        config = tmp_path / "unreachable-kubeconfig"
        config.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            f"clusters: [{{name: c, cluster: {{server: '{black_hole.url}'}}}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
        monkeypatch.setenv("KUBECONFIG", str(config))
    provider = cloud.make(init_blocks=1, min_blocks=0, max_blocks=1)
    provider.api_timeout = 1
    run = start_run(provider, strategy="simple", max_idletime=120, with_threads=True)

    @parsl.python_app(executors=["threads"])
    def double(x: int) -> int:
        return 2 * x

    @parsl.python_app(executors=["cloud"])
    def on_cloud() -> str:
        return "ran"

    doomed = on_cloud()
    error: Optional[BaseException] = doomed.exception(timeout=120)
    assert [double(i).result(timeout=30) for i in range(3)] == [0, 2, 4]
    started = time.monotonic()
    run.cleanup()

    assert error is not None and "block 0" in str(error)
    assert "timeout" in str(error).lower() or "timed out" in str(error).lower()
    assert time.monotonic() - started < 60
    log = Path(run.dfk.run_dir, "parsl.log").read_text()
    assert "block-0" in log


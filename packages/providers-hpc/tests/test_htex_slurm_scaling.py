"""HighThroughputExecutor blocks on a real Slurm cluster: scale-out, scale-in, walltime, cleanup.

Everything runs through ``parsl.load`` and apps, the way a user's script does: the DFK's
job status poller applies the scaling strategy, SlurmProvider submits blocks with sbatch and
polls squeue, and the workers connect back to the interchange on 127.0.0.1.

The one-node cluster of ``.ci/setup-slurm.sh`` has two cores with ``cons_tres``/``CR_Core``,
so each block asks for one core (``cores_per_node=1``, ``exclusive=False``) and two blocks
run side by side. Tasks that must stay busy while the test looks at the cluster wait for a
gate file the test creates, so no timing is guessed.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import psutil
import pytest

import parsl
from parsl.config import Config
from parsl.jobs.states import JobState
from parsl.launchers.base import Launcher

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

parsl_htex = pytest.importorskip("parsl_htex")
from parsl_htex.errors import ManagerLost  # noqa: E402

#: Slurm states (``squeue %T``) in which a job still holds or waits for resources.
LIVE_SLURM_STATES = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING",
                               "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT"})

#: Folder from which ``import packages.<...>.test_htex_slurm_scaling`` works. Under pytest's
#: importlib mode this module is named from the repository root, and workers unpickle the
#: apps below by importing it, so jobs get this folder on their PYTHONPATH.
REPO_ROOT = str(Path(__file__).resolve().parents[3])


@parsl.python_app
def wait_for_gate(gate: str, started: str = "", bound: float = 150) -> Tuple[str, str]:
    """Block until file ``gate`` exists; return the worker's block id and Slurm job id.

    ``started``, when given, is created (holding the Slurm job id) as soon as the task
    runs. The wait is bounded, so a failing test never leaves a task running forever.
    """
    if started:
        with open(started, "w") as f:
            f.write(os.environ.get("SLURM_JOB_ID", ""))
    deadline = time.monotonic() + bound
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} did not open within {bound} s")
        time.sleep(0.1)
    return os.environ["PARSL_WORKER_BLOCK_ID"], os.environ.get("SLURM_JOB_ID", "")


@parsl.python_app
def where_am_i() -> Tuple[str, str]:
    """The worker's block id and Slurm job id."""
    return os.environ["PARSL_WORKER_BLOCK_ID"], os.environ.get("SLURM_JOB_ID", "")


def live_slurm_jobs(job_ids: List[str]) -> Set[str]:
    """Those of ``job_ids`` that squeue lists as pending or running (not finished)."""
    if not job_ids:
        return set()
    result = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i|%T",
                             f"--jobs={','.join(job_ids)}"], capture_output=True, text=True,
                            timeout=30, check=False)
    live = set()
    for line in result.stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        if state in LIVE_SLURM_STATES:
            live.add(job_id)
    return live


def running_slurm_jobs(job_ids: List[str]) -> Set[str]:
    """Those of ``job_ids`` that squeue lists as RUNNING."""
    if not job_ids:
        return set()
    result = subprocess.run(["squeue", "--noheader", "--states=RUNNING", "--format=%i",
                             f"--jobs={','.join(job_ids)}"], capture_output=True, text=True,
                            timeout=30, check=False)
    return set(result.stdout.split()) & set(job_ids)


def processes_mentioning(text: str) -> List[psutil.Process]:
    """Processes on this machine whose command line contains ``text``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(text in part for part in cmdline):
            found.append(proc)
    return found


def live_children() -> Set[int]:
    """Pids of this test process's descendants that are still running (not zombies)."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                pids.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


class SlurmRun:
    """A loaded DFK with one HTEX on SlurmProvider, and what a test needs to inspect it."""

    def __init__(self, tmp_path: Path, label: str, strategy: str, max_idletime: float,
                 launcher: Launcher, **provider_options: object) -> None:
        from parsl_hpc import SlurmProvider

        self.run_dir = str(tmp_path / "runinfo")
        options: Dict[str, object] = {"exclusive": False, "cores_per_node": 1,
                                      "mem_per_node": 1, "walltime": "00:05:00",
                                      "cmd_timeout": 30, "launcher": launcher}
        options.update(provider_options)
        self.provider = SlurmProvider(**options)  # type: ignore[arg-type]
        # Slurm is polled every 60 s by default; this cluster is local and idle.
        self.provider.status_polling_interval = 1
        self.executor = parsl_htex.HighThroughputExecutor(
            label=label, provider=self.provider, address="127.0.0.1",
            max_workers_per_node=1, heartbeat_period=2, heartbeat_threshold=10)
        self.dfk = parsl.load(Config(executors=[self.executor], run_dir=self.run_dir,
                                     strategy=strategy, strategy_period=0.5,
                                     max_idletime=max_idletime))
        self._cleaned = False

    def job_ids(self) -> List[str]:
        """Slurm job ids of every block launched so far."""
        return list(self.executor.blocks_to_job_id.values())

    def busy_blocks(self) -> Set[str]:
        """Blocks whose connected managers hold a task, as the interchange sees it."""
        return {str(m["block_id"]) for m in self.executor.connected_managers() if m["tasks"]}

    def cleanup(self) -> None:
        if not self._cleaned:
            self._cleaned = True
            try:
                self.dfk.cleanup()
            finally:
                parsl.clear()


#: The ``slurm_run`` fixture: starts a SlurmRun from SlurmRun's keyword arguments.
StartRun = Callable[..., SlurmRun]
#: conftest's bounded polling helper ``wait_for``.
Wait = Callable[..., Any]


@pytest.fixture
def slurm_run(slurm_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              wait: Wait) -> Iterator[StartRun]:
    """Start a SlurmRun on demand; afterwards clean it up and wait for its jobs to go.

    The test runs in its temporary folder because Slurm jobs start in sbatch's working
    folder, where SrunLauncher writes its command file (as Parsl's does); sbatch passes
    the environment, with the PYTHONPATH workers need, on to the jobs. Waiting for the
    jobs to end keeps one test's blocks from holding the node's cores while the next
    test's blocks are queued.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p))
    runs: List[SlurmRun] = []

    def start(**kwargs: object) -> SlurmRun:
        run = SlurmRun(tmp_path, **kwargs)  # type: ignore[arg-type]
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.cleanup()
        jobs = run.job_ids()
        wait(lambda jobs=jobs: not live_slurm_jobs(jobs), timeout=60,
             what=f"Slurm jobs {jobs} to end after cleanup")


def test_second_block_is_requested_and_used_when_tasks_exceed_one_block(
        slurm_run: StartRun, tmp_path: Path, wait: Wait) -> None:
    from parsl_hpc import SrunLauncher

    run = slurm_run(label="scale_out", strategy="simple", max_idletime=120,
                    launcher=SrunLauncher(), init_blocks=1, min_blocks=0, max_blocks=2)
    gate = tmp_path / "gate"
    futures = [wait_for_gate(str(gate)) for _ in range(2)]

    wait(lambda: len(running_slurm_jobs(run.job_ids())) == 2, timeout=90,
         what="the strategy to launch a second block and Slurm to run both")
    wait(lambda: run.busy_blocks() == {"0", "1"}, timeout=90,
         what="each block's manager to hold one of the tasks")
    gate.touch()
    placements = {f.result(timeout=120) for f in futures}

    assert {block for block, _ in placements} == {"0", "1"}
    assert {job for _, job in placements} == set(run.job_ids())


def test_idle_blocks_are_cancelled_down_to_min_blocks_with_htex_auto_scale(
        slurm_run: StartRun, tmp_path: Path, wait: Wait) -> None:
    from parsl.launchers.launchers import SingleNodeLauncher

    run = slurm_run(label="scale_in", strategy="htex_auto_scale", max_idletime=2,
                    launcher=SingleNodeLauncher(), init_blocks=2, min_blocks=1,
                    max_blocks=2)
    gate = tmp_path / "gate"
    futures = [wait_for_gate(str(gate)) for _ in range(2)]
    wait(lambda: run.busy_blocks() == {"0", "1"}, timeout=90,
         what="each block's manager to hold one of the tasks")
    gate.touch()
    assert {f.result(timeout=120)[0] for f in futures} == {"0", "1"}

    wait(lambda: len(live_slurm_jobs(run.job_ids())) == 1, timeout=60,
         what="one idle block to be cancelled in Slurm")
    status = run.executor.status()
    remaining_block, remaining_job = where_am_i().result(timeout=60)

    states = {block: js.state for block, js in status.items()}
    scaled_in = [block for block, state in states.items() if state is JobState.SCALED_IN]
    assert len(scaled_in) == 1 and scaled_in[0] != remaining_block
    assert live_slurm_jobs(run.job_ids()) == {remaining_job}


def test_block_reaching_walltime_is_timeout_and_fails_its_task_naming_it(
        slurm_run: StartRun, tmp_path: Path, wait: Wait) -> None:
    """Slurm's shortest time limit is one minute; the test moves the job's end to now with
    ``scontrol update EndTime=now`` (as an administrator can), and slurmctld ends it as
    TIMEOUT in its next time-limit check."""
    from parsl_hpc import SrunLauncher

    run = slurm_run(label="walltime", strategy="simple", max_idletime=120,
                    launcher=SrunLauncher(), init_blocks=1, min_blocks=0, max_blocks=1,
                    walltime="00:01:00")
    started = tmp_path / "started"
    future = wait_for_gate(str(tmp_path / "never-opened"), str(started))
    wait(started.exists, timeout=90, what="the task to start in the block")
    job_id = run.executor.blocks_to_job_id["0"]

    subprocess.run(["scontrol", "update", f"JobId={job_id}", "EndTime=now"], check=True,
                   timeout=30)

    error: Optional[BaseException] = future.exception(timeout=150)
    status = wait(lambda: (js := run.executor.status()["0"]).terminal and js, timeout=90,
                  what="the executor to see the block end")
    assert status.state is JobState.TIMEOUT
    assert error is not None
    assert "block 0" in str(error) and "TIMEOUT" in str(error)


def test_task_on_timed_out_block_fails_naming_it_while_other_block_keeps_working(
        slurm_run: StartRun, tmp_path: Path, wait: Wait) -> None:
    """With a second block alive the executor keeps going: only the task that was on the
    timed-out block fails (its manager is lost), and the error says which block and why.

    Only block 0's end is moved to now; the walltime is long enough that block 1 cannot
    reach it during the test."""
    from parsl_hpc import SrunLauncher

    run = slurm_run(label="walltime_two", strategy="simple", max_idletime=120,
                    launcher=SrunLauncher(), init_blocks=2, min_blocks=0, max_blocks=2,
                    walltime="00:05:00")
    gates = [tmp_path / "gate-a", tmp_path / "gate-b"]
    started = [tmp_path / "started-a", tmp_path / "started-b"]
    futures = [wait_for_gate(str(g), str(s)) for g, s in zip(gates, started)]
    wait(lambda: all(s.exists() for s in started) and run.busy_blocks() == {"0", "1"},
         timeout=90, what="each block to run one of the tasks")
    doomed_job = run.executor.blocks_to_job_id["0"]
    doomed = next(i for i, s in enumerate(started) if s.read_text() == doomed_job)
    survivor = 1 - doomed

    subprocess.run(["scontrol", "update", f"JobId={doomed_job}", "EndTime=now"], check=True,
                   timeout=30)
    gates[survivor].touch()
    survivor_block, _ = futures[survivor].result(timeout=60)
    error: Optional[BaseException] = futures[doomed].exception(timeout=150)
    status = wait(lambda: (js := run.executor.status()["0"]).terminal and js, timeout=90,
                  what="the executor to see block 0 end")

    assert status.state is JobState.TIMEOUT
    assert survivor_block == "1" and not run.executor.bad_state_is_set
    assert isinstance(error, ManagerLost)
    assert "block 0" in str(error) and "TIMEOUT" in str(error), str(error)


def test_cleanup_leaves_no_slurm_job_and_no_local_process(slurm_run: StartRun,
                                                           wait: Wait) -> None:
    from parsl.launchers.launchers import SingleNodeLauncher

    children_before = live_children()
    run = slurm_run(label="cleanup", strategy="simple", max_idletime=120,
                    launcher=SingleNodeLauncher(), init_blocks=2, min_blocks=0,
                    max_blocks=2)
    assert where_am_i().result(timeout=120)[0] in {"0", "1"}
    wait(lambda: len(running_slurm_jobs(run.job_ids())) == 2, timeout=90,
         what="both blocks to run in Slurm")
    interchange = run.executor.interchange_proc
    assert interchange is not None and interchange.poll() is None

    run.cleanup()

    jobs = run.job_ids()
    wait(lambda: not live_slurm_jobs(jobs), timeout=60, what=f"Slurm jobs {jobs} to end")
    wait(lambda: not processes_mentioning(run.run_dir), timeout=60,
         what=f"worker processes started for {run.run_dir} to exit")
    assert interchange.poll() is not None
    assert live_children() <= children_before

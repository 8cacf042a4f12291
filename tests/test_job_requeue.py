"""A stopped job asks SLURM to requeue it only while it runs, and says what happens next; the
training history marks runs killed outright; a requeued job's rule log gets every run's
output back. SLURM is the stand-in (tests/slurm_standin), which follows its documentation."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from gianet.jobs import history, interrupt, locks
from gianet.jobs.job_output import JOB_OUTPUT
from gianet.stages import STAGES
from gianet.stages.models import ENDING_RUN_WAIT
from tests import slurm_standin


@pytest.fixture
def slurm(tmp_path, monkeypatch):
    """The stand-in on PATH, and a function submitting a job that sleeps."""
    env = slurm_standin.install(tmp_path / "bin", tmp_path / "state")
    env |= {"STANDIN_KILL_WAIT": "1", "STANDIN_REQUEUE_DELAY": "30"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(interrupt, "_decided", None)

    def submit() -> str:
        done = subprocess.run(
            ["sbatch", "--parsable", "--requeue", "--wrap=sleep 30"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        job_id = done.stdout.strip()
        wait_for(tmp_path, job_id, "RUNNING")
        monkeypatch.setenv("SLURM_JOB_ID", job_id)
        return job_id

    yield submit
    for job in slurm_standin.submitted(tmp_path / "state"):
        subprocess.run(["scancel", job["id"]], check=False)


def wait_for(root, job_id: str, state: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        job = next(j for j in slurm_standin.submitted(root / "state") if j["id"] == job_id)
        if job["state"].startswith(state):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_outside_slurm_nothing_is_requeued(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_JOBID", raising=False)
    monkeypatch.setattr(interrupt, "_decided", None)
    outcome = interrupt.requeue_current_job()
    assert outcome.requeued is False and "rerun the workflow" in str(outcome)


def test_a_running_job_is_requeued_and_says_it_resumes_by_itself(slurm, tmp_path):
    job_id = slurm()
    outcome = interrupt.requeue_current_job()
    assert outcome.requeued is True
    assert f"SLURM job {job_id} requeued (restart 1)" in str(outcome)
    assert "runs again by itself" in str(outcome)
    assert interrupt.requeue_current_job() is outcome  # asked once per process
    job = wait_for(tmp_path, job_id, "PENDING")
    assert job["restarts"] == 1


def test_a_cancelled_job_is_not_requeued_and_stays_cancelled(slurm, tmp_path):
    job_id = slurm()
    subprocess.run(["scancel", job_id], check=True)
    outcome = interrupt.requeue_current_job()
    assert outcome.requeued is False
    assert f"SLURM job {job_id} not requeued" in str(outcome)
    assert "rerun the workflow to resume" in str(outcome)
    job = wait_for(tmp_path, job_id, "CANCELLED")
    assert job["runs"] == 1 and job["restarts"] == 0


def test_a_run_killed_outright_is_noted_at_the_next_start(tmp_path, monkeypatch):
    log = tmp_path / "train_history.log"
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    history.begin_run(log, "training sid_net on Sony")
    history.note(log, "finished: {}")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    history.begin_run(log, "training sid_net on Sony")  # this run is then killed: no end line
    assert history.unfinished_start(log) is not None
    history.begin_run(log, "training sid_net on Sony")  # SLURM runs job 42 again
    lines = log.read_text().splitlines()
    assert len(lines) == 5 and history.NO_STOP_LINE in lines[3]
    assert lines[4].endswith("training sid_net on Sony (run 2 of the SLURM job): started")
    assert history.NO_STOP_LINE not in log.read_text().split(lines[3])[0]


RUN = """
import sys
from gianet.jobs import interrupt
from gianet.jobs.job_output import record_job_output
record_job_output(sys.argv[1])
print("output of run", sys.argv[2])
print("a warning", file=sys.stderr)
if sys.argv[3] == "requeued":
    interrupt._decided = interrupt.Requeue(True, "requeued")
"""


def test_a_requeued_run_prints_the_earlier_runs_before_its_own(tmp_path):
    copy = tmp_path / JOB_OUTPUT
    env = os.environ | {"SLURM_JOB_ID": "7"}

    def run(number: int, outcome: str, job: str = "7") -> str:
        done = subprocess.run(
            [sys.executable, "-c", RUN, str(copy), str(number), outcome],
            env=env | {"SLURM_JOB_ID": job}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout + done.stderr

    first = run(1, "requeued")
    assert "---- run 1 of SLURM job 7 ----" in first and "output of run 1" in first
    assert copy.exists()  # requeued: kept for the next run
    second = run(2, "finished")
    assert "output of the earlier runs of SLURM job 7" in second
    assert second.index("output of run 1") < second.index("---- run 2 of SLURM job 7 ----")
    assert second.index("---- run 2") < second.index("output of run 2")
    assert second.count("a warning") == 2  # stderr is copied as well
    assert not copy.exists()  # the job ended: nothing more to replay
    # A run of another job starts afresh, whatever an earlier job left.
    run(1, "requeued")
    fresh = run(1, "finished", job="8")
    assert "earlier runs" not in fresh and "---- run 1 of SLURM job 8 ----" in fresh


HOLD = """
import sys, time
from gianet.jobs.locks import output_lock
with output_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_training_waits_a_bounded_time_for_an_ending_run_of_its_model(tmp_path, capsys):
    """A cancelled run may still be saving its state when the next one starts: the next one
    waits for it (up to the train stage's wait_for_outputs), then refuses naming it."""
    model = tmp_path / "model" / "model.pt"
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(model), "3"], stdout=subprocess.PIPE, text=True
    )
    assert first.stdout.readline().strip() == "held"
    refused = pytest.raises(locks.OutputBusy, match=r"still, after 0 s\).*pid")
    with refused, locks.output_lock(model, wait=0.3):
        pass
    assert "waiting up to 0 s for pid" in capsys.readouterr().err
    with locks.output_lock(model, wait=30):  # once it ends
        assert first.wait() == 0
    assert STAGES["train"].wait_for_outputs == ENDING_RUN_WAIT >= 60

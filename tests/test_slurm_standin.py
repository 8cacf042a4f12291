"""The stand-in SLURM (tests/slurm_standin) does what SLURM's documentation says, on small
jobs: requeue of running, completing, pending and finished jobs (with and without
``Incomplete``), ``scancel``'s SIGTERM then SIGKILL, a time limit with and without its warning
signal, the warning once per run, and the queries the plugin and the README use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import slurm_standin

#: A job that records what happens to it in $JOB_LOG, one "<restart count> <what>" per line.
JOB = r"""
import os, pathlib, signal, subprocess, sys, time
log = pathlib.Path(os.environ["JOB_LOG"])
restart = os.environ.get("SLURM_RESTART_COUNT", "0")
def say(what):
    with open(log, "a") as handle:
        handle.write(f"{restart} {what}\n")
on = os.environ.get("ON_SIGNAL", "die")
def handler(number, frame):
    say("signal " + signal.Signals(number).name)
    if on.startswith("requeue"):
        time.sleep(float(os.environ.get("BEFORE_REQUEUE", "0")))
        how = ["Incomplete"] if on == "requeue-incomplete" else []
        done = subprocess.run(["scontrol", "requeue", *how, os.environ["SLURM_JOB_ID"]])
        say(f"requeue {done.returncode}")
        sys.exit(75)
if on != "die":
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, handler)
say("start")
if os.environ.get("TRIGGER"):
    pathlib.Path(os.environ["TRIGGER"]).touch()
if int(restart) >= int(os.environ.get("DONE_AT_RESTART", "99")):
    say("done")
    sys.exit(0)
time.sleep(float(os.environ.get("DURATION", "30")))
say("done")
"""


@pytest.fixture
def cluster(tmp_path):
    """Run ``sbatch`` and friends against a fresh stand-in; jobs get ``JOB_LOG``."""
    env = os.environ | slurm_standin.install(tmp_path / "bin", tmp_path / "state")
    env |= {"STANDIN_KILL_WAIT": "1", "STANDIN_REQUEUE_DELAY": "0.5", "JOB_LOG": "job.log"}
    (tmp_path / "job.py").write_text(JOB)

    class Cluster:
        root = tmp_path

        def __call__(self, *argv: str, **extra: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                argv, cwd=tmp_path, env=env | extra, capture_output=True, text=True, timeout=30
            )

        def submit(self, *options: str, step: bool = True, **extra: str) -> str:
            script = f"{'srun -n1 ' if step else ''}{sys.executable} job.py"
            done = self("sbatch", "--parsable", "--requeue", *options, f"--wrap={script}", **extra)
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        def job(self, job_id: str) -> dict:
            return next(j for j in slurm_standin.submitted(tmp_path / "state") if j["id"] == job_id)

        def log(self) -> list[str]:
            path = tmp_path / "job.log"
            return path.read_text().splitlines() if path.exists() else []

        def wait(self, job_id: str, what, timeout: float = 30) -> dict:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                job = self.job(job_id)
                if what(job):
                    return job
                time.sleep(0.1)
            raise AssertionError(f"job {job_id} never got there: {job} {self.log()}")

        def wait_log(self, line: str, timeout: float = 30) -> None:
            deadline = time.monotonic() + timeout
            while line not in self.log():
                assert time.monotonic() < deadline, f"{line!r} never logged: {self.log()}"
                time.sleep(0.1)

    cluster = Cluster()
    yield cluster
    for job in slurm_standin.submitted(tmp_path / "state"):  # leave nothing running
        cluster("scancel", job["id"])


def ended(job: dict) -> bool:
    return job["events"][-1]["event"] == "ended" and job["state"] != "PENDING"


def signals(job: dict) -> list[str]:
    return [e["signal"] for e in job["events"] if e["event"] == "signal"]


def test_requeue_of_a_running_job_ends_its_run_and_runs_it_again_with_the_same_id(cluster):
    job_id = cluster.submit(ON_SIGNAL="ignore", DONE_AT_RESTART="1")
    cluster.wait_log("0 start")
    assert cluster("scontrol", "requeue", job_id).returncode == 0
    assert cluster.job(job_id)["state"] == "REQUEUED"
    assert "JobState=COMPLETING" in cluster("scontrol", "show", "job", job_id).stdout
    job = cluster.wait(job_id, ended)
    assert job["state"] == "COMPLETED" and job["runs"] == 2 and job["restarts"] == 1
    # The first run ignored SIGTERM: SIGKILL after KillWait; the second saw the restart count.
    assert signals(job) == ["SIGCONT", "SIGTERM", "SIGKILL", "SIGKILL"]
    # (srun forwards the SIGTERM it gets too: the step may see it twice.)
    assert [line for line in cluster.log() if "signal" not in line] == [
        "0 start",
        "1 start",
        "1 done",
    ]
    assert "0 signal SIGTERM" in cluster.log()
    assert "Restarts=1" in cluster("scontrol", "show", "job", job_id).stdout


def test_a_pending_job_is_not_requeued_and_incomplete_leaves_it_alone(cluster):
    job_id = cluster.submit(DONE_AT_RESTART="1", STANDIN_REQUEUE_DELAY="3")
    cluster.wait_log("0 start")
    assert cluster("scontrol", "requeue", job_id).returncode == 0
    cluster.wait(job_id, lambda job: job["state"] == "PENDING")
    refused = cluster("scontrol", "requeue", job_id)
    assert refused.returncode == 1 and "Job is pending execution" in refused.stderr
    assert cluster("scontrol", "requeue", "Incomplete", job_id).returncode == 0
    job = cluster.wait(job_id, ended)
    assert (job["state"], job["runs"], job["restarts"]) == ("COMPLETED", 2, 1)


def test_a_job_submitted_with_no_requeue_refuses_it(cluster):
    job_id = cluster.submit("--no-requeue", DURATION="2")
    cluster.wait_log("0 start")
    refused = cluster("scontrol", "requeue", job_id)
    assert refused.returncode == 1 and "presently disabled" in refused.stderr


def test_scancel_sends_sigterm_then_sigkill_and_the_job_stays_cancelled(cluster):
    job_id = cluster.submit(ON_SIGNAL="ignore")
    cluster.wait_log("0 start")
    assert cluster("scancel", job_id).returncode == 0
    job = cluster.wait(job_id, ended)
    assert job["state"] == f"CANCELLED by {os.getuid()}" and job["runs"] == 1
    assert signals(job) == ["SIGCONT", "SIGTERM", "SIGKILL"]
    assert set(cluster.log()) == {"0 start", "0 signal SIGTERM"}
    assert cluster("scancel", job_id).returncode == 0  # already ended: nothing to do
    late = cluster("scancel", "--signal=USR1", job_id)
    assert late.returncode == 1 and "already completing or completed" in late.stderr


def test_a_cancelled_job_that_requeues_itself_comes_back_unless_incomplete(cluster):
    """The defect gianet must avoid: a plain requeue after scancel runs the job again."""
    plain = cluster.submit(ON_SIGNAL="requeue", DONE_AT_RESTART="1", JOB_LOG="plain.log")
    incomplete = cluster.submit(
        ON_SIGNAL="requeue-incomplete", DONE_AT_RESTART="1", JOB_LOG="incomplete.log"
    )
    for job_id, log in ((plain, "plain.log"), (incomplete, "incomplete.log")):
        while (
            "0 start" not in (cluster.root / log).read_text()
            if (cluster.root / log).exists()
            else True
        ):
            time.sleep(0.1)
        assert cluster("scancel", job_id).returncode == 0
    again = cluster.wait(plain, ended)
    assert (again["state"], again["runs"], again["restarts"]) == ("COMPLETED", 2, 1)
    stopped = cluster.wait(incomplete, ended)
    assert stopped["state"].startswith("CANCELLED") and stopped["runs"] == 1
    assert stopped["restarts"] == 0
    assert "0 requeue 0" in (cluster.root / "incomplete.log").read_text()  # no error, no requeue


def test_a_time_limit_without_warning_shows_timeout_while_the_job_requeues_itself(cluster):
    job_id = cluster.submit(
        ON_SIGNAL="requeue",
        BEFORE_REQUEUE="1",
        DONE_AT_RESTART="1",
        TRIGGER="limit",
        STANDIN_TIME_LIMIT_AT="limit",
        STANDIN_KILL_WAIT="5",
    )
    seen = cluster.wait(job_id, lambda job: job["state"] == "TIMEOUT")
    assert seen["runs"] == 1
    status = cluster(
        "sacct", "-X", "--parsable2", "--noheader", "--format=JobIdRaw,State", "-j", job_id
    )
    assert status.stdout.strip() in (f"{job_id}|TIMEOUT", f"{job_id}|PENDING")
    job = cluster.wait(job_id, ended)
    assert (job["state"], job["runs"], job["restarts"]) == ("COMPLETED", 2, 1)


def test_incomplete_leaves_a_timed_out_job_timed_out(cluster):
    job_id = cluster.submit(
        ON_SIGNAL="requeue-incomplete",
        DONE_AT_RESTART="1",
        TRIGGER="limit",
        STANDIN_TIME_LIMIT_AT="limit",
    )
    job = cluster.wait(job_id, ended)
    assert (job["state"], job["runs"], job["restarts"]) == ("TIMEOUT", 1, 0)


def test_the_warning_goes_to_the_steps_once_per_run_and_the_limit_follows_if_ignored(cluster):
    job_id = cluster.submit(
        "--signal=USR1@600",
        ON_SIGNAL="requeue-incomplete",
        TRIGGER="limit",
        DONE_AT_RESTART="3",
        STANDIN_TIME_LIMIT_AT="limit",
        STANDIN_TIME_LIMITED_RUNS="3",
    )
    job = cluster.wait(job_id, ended)
    assert (job["state"], job["runs"], job["restarts"]) == ("COMPLETED", 4, 3)
    warnings = [e for e in job["events"] if e["event"] == "signal" and e["signal"] == "SIGUSR1"]
    assert len(warnings) == 3 and all(e["steps"] and not e["batch"] for e in warnings)
    ignored = cluster.submit(
        "--signal=USR1@600",
        ON_SIGNAL="ignore",
        TRIGGER="limit2",
        JOB_LOG="ignored.log",
        STANDIN_TIME_LIMIT_AT="limit2",
        STANDIN_LIMIT_GRACE="1",
    )
    job = cluster.wait(ignored, ended)
    assert job["state"] == "TIMEOUT" and job["runs"] == 1
    assert signals(job) == ["SIGUSR1", "SIGCONT", "SIGTERM", "SIGKILL"]


def test_a_batch_only_warning_reaches_the_shell_alone_which_dies_of_it(cluster):
    """``--signal=B:USR1``: the plugin's --wrap shell has no trap, so the job ends there."""
    job_id = cluster.submit(
        "--signal=B:USR1@600",
        ON_SIGNAL="requeue-incomplete",
        TRIGGER="limit",
        STANDIN_TIME_LIMIT_AT="limit",
    )
    job = cluster.wait(job_id, ended)
    assert job["state"] == "FAILED" and job["runs"] == 1
    assert "0 signal SIGUSR1" not in cluster.log()  # the step never saw it


def test_squeue_shows_id_state_name_and_comment(cluster):
    job_id = cluster.submit(
        "--job-name", "gianet_1f2e", "--comment", "rule_train_wildcards_Sony_sid_net",
        DURATION="5",
    )  # fmt: skip
    cluster.wait_log("0 start")
    # The README's command.
    shown = cluster("squeue", "-u", os.environ.get("USER", "me"), "-o", "%i %T %j %k").stdout
    assert shown.splitlines() == [
        "JOBID STATE NAME COMMENT",
        f"{job_id} RUNNING gianet_1f2e rule_train_wildcards_Sony_sid_net",
    ]
    cluster("scancel", job_id)
    cluster.wait(job_id, ended)
    assert cluster("squeue", "-h", "-o", "%i").stdout.strip() == ""  # ended: not listed
    every = cluster("squeue", "-h", "--states=all", "-o", "%i|%T").stdout.strip()
    assert every == f"{job_id}|CANCELLED"


def test_the_shims_leave_the_callers_path_first(tmp_path):
    env = slurm_standin.install(tmp_path / "bin", tmp_path / "state")
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "bin")
    assert Path(env["PATH"].split(os.pathsep)[1]) == Path(sys.executable).parent

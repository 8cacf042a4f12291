"""The stand-in's node side of one job: run its batch script, again after every requeue.

One runner process per job (started by ``sbatch``, or by ``scontrol requeue`` of a finished
job). Each run starts the batch script (``/bin/sh -c`` of ``--wrap``) in a process group of
its own with the job's environment, then watches it: the stand-in time limit (warning signal,
hard limit), the end of the batch script, and the end of a run that ``scancel``, ``scontrol
requeue`` or the limit began (SIGKILL after KillWait, then the next run or the final state).
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.slurm_standin import jobs
from tests.slurm_standin.jobs import COMPLETED, FAILED, PENDING, RUNNING, TIMEOUT

POLL = 0.2


def signal_number(name: str) -> int:
    """A signal given as a number or a name, with or without SIG (``10``, ``USR1``)."""
    if name.isdigit():
        return int(name)
    return int(getattr(signal, "SIG" + name.upper().removeprefix("SIG")))


def parse_signal(value: str | None) -> dict | None:
    """``--signal=[{R|B}:]<sig_num>[@sig_time]`` (sig_time 60 s when left out)."""
    if not value:
        return None
    target, _, rest = value.rpartition(":") if ":" in value else ("", "", value)
    name, _, seconds = rest.partition("@")
    return {
        "signal": signal_number(name),
        "batch_only": "B" in target.upper(),
        "seconds": int(seconds or 60),
    }


def limit_reached(record: dict, workdir: str) -> bool:
    """The stand-in time limit: this run's limit is near once a file matching
    ``STANDIN_TIME_LIMIT_AT`` (relative to the job's working directory) was written during the
    run, for the first ``STANDIN_TIME_LIMITED_RUNS`` runs of the job (default 1)."""
    pattern = os.environ.get("STANDIN_TIME_LIMIT_AT")
    if not pattern or record["runs"] > int(os.environ.get("STANDIN_TIME_LIMITED_RUNS") or 1):
        return False
    started = record["run_started"]
    return any(
        os.path.getmtime(path) > started for path in glob.glob(os.path.join(workdir, pattern))
    )


def start_run(job_id: str, record: dict) -> subprocess.Popen:
    """Start the next run of the job's batch script; the record says it is RUNNING."""
    record["runs"] = int(record.get("runs", 0)) + 1
    record.update(state=RUNNING, run_started=time.time(), warned_at=None, requid=None)
    steps = jobs.job_dir(job_id) / "steps"
    steps.mkdir(exist_ok=True)
    for old in steps.glob("*.json"):
        old.unlink()
    env = os.environ | {"SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id}
    env |= {"SLURM_JOB_NAME": record["name"], "SLURM_SUBMIT_DIR": record["submit_dir"]}
    if record.get("restarts"):
        env["SLURM_RESTART_COUNT"] = str(record["restarts"])
    if record.get("gpus"):
        env["SLURM_GPUS"] = str(record["gpus"])
    output = Path(record["output"])
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "a" if record["append"] else "w") as log:
        batch = subprocess.Popen(
            ["/bin/sh", "-c", record["wrap"]],
            cwd=record["workdir"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    record["batch_pgid"] = batch.pid
    jobs.event(job_id, "run", run=record["runs"], restarts=record.get("restarts", 0))
    return batch


def watch(job_id: str, record: dict, batch: subprocess.Popen) -> bool:
    """One look at the running job; True once the run is over."""
    now = time.time()
    if record.get("completing"):
        if record.get("terminate"):
            jobs.terminate_now(job_id, record)
        if not record.get("killed") and now >= record["kill_at"]:
            jobs.send(job_id, record, signal.SIGKILL, batch=True, steps=True)
            record["killed"] = True
        if batch.poll() is None or jobs.live_groups(job_id, record):
            return False
        record.update(completing=False, requeue_flag=False)
        jobs.event(job_id, "ended", state=record["state"], run=record["runs"])
        return True
    if batch.poll() is not None:  # the script ended: slurmd kills what is left of the job
        jobs.send(job_id, record, signal.SIGKILL, batch=True, steps=True)
        record["state"] = COMPLETED if batch.returncode == 0 else FAILED
        record["exit_code"] = batch.returncode
        jobs.event(job_id, "ended", state=record["state"], run=record["runs"])
        return True
    warning = record.get("signal")
    if record.get("warned_at") is None and limit_reached(record, record["workdir"]):
        record["warned_at"] = now
        if not warning:
            jobs.end_run(job_id, record, TIMEOUT)
        elif warning["batch_only"]:
            jobs.signal_batch_shell(job_id, record, warning["signal"])
        else:
            jobs.send(job_id, record, warning["signal"], batch=False, steps=True)
    elif (
        record.get("warned_at") is not None
        and warning
        and now - record["warned_at"] > jobs.setting("STANDIN_LIMIT_GRACE", 60)
    ):
        jobs.end_run(job_id, record, TIMEOUT)
    return False


def run(job_id: str) -> int:
    """Run the job until it is finished for good."""
    with jobs.locked(job_id) as record:
        record["runner_pid"] = os.getpid()
        record["needs_runner"] = False
    while True:
        with jobs.locked(job_id) as record:
            if record["state"] != PENDING or record.get("completing"):
                return 0  # cancelled while pending
            batch = None
            if time.time() >= record.get("eligible_at", 0):
                batch = start_run(job_id, record)
        if batch is None:
            time.sleep(POLL)
            continue
        while True:
            time.sleep(POLL)
            with jobs.locked(job_id) as record:
                over = watch(job_id, record, batch)
                if over and record["state"] == PENDING:  # requeued: run again
                    record["eligible_at"] = time.time() + jobs.setting("STANDIN_REQUEUE_DELAY", 1)
            if over:
                break
        batch.wait()
        if record["state"] != PENDING:
            return 0

"""The stand-in controller's job records and state changes (what slurmctld keeps and does).

A job is a folder under ``$STANDIN_SLURM_DIR/jobs/<id>``: ``record.json`` (changed only under
the folder's lock), ``steps/<n>.json`` (one per ``srun``: its process group and arguments) and
``events.jsonl`` (what happened, for the tests). The state model follows slurmctld: a base
state (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT) and two flags, COMPLETING
(processes of the ending run are still being killed) and REQUEUE (the run ends because the job
was requeued); the package docstring cites the behaviour of each change.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

PENDING, RUNNING, COMPLETED, FAILED = "PENDING", "RUNNING", "COMPLETED", "FAILED"
CANCELLED, TIMEOUT = "CANCELLED", "TIMEOUT"
FINISHED = (COMPLETED, FAILED, CANCELLED, TIMEOUT)


def state_dir() -> Path:
    return Path(os.environ.get("STANDIN_SLURM_DIR", "/tmp/standin-slurm"))


def job_dir(job_id: str) -> Path:
    return state_dir() / "jobs" / str(job_id)


def setting(name: str, default: float) -> float:
    """A stand-in timing (seconds) from the environment: ``STANDIN_KILL_WAIT`` (slurm.conf
    KillWait, 30 s by default), ``STANDIN_REQUEUE_DELAY``, ``STANDIN_LIMIT_GRACE``."""
    return float(os.environ.get(name) or default)


def write_json(path: Path, value: object) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


def read_json(path: Path, default: object = None) -> object:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def exists(job_id: str) -> bool:
    return (job_dir(job_id) / "record.json").exists()


def read(job_id: str) -> dict:
    """The job's record, read without the lock (for queries)."""
    return read_json(job_dir(job_id) / "record.json", {})


@contextlib.contextmanager
def locked(job_id: str) -> Iterator[dict]:
    """The job's record, to change: written back when the block ends."""
    folder = job_dir(job_id)
    with open(folder / "lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = read_json(folder / "record.json", {})
        yield record
        write_json(folder / "record.json", record)


def event(job_id: str, kind: str, **details: object) -> None:
    """Append one event (``kind``, the time, ``details``) to the job's events."""
    line = json.dumps({"event": kind, "time": time.time(), **details})
    with open(job_dir(job_id) / "events.jsonl", "a") as handle:
        handle.write(line + "\n")


def events(job_id: str) -> list[dict]:
    path = job_dir(job_id) / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


# --- processes of the current run -----------------------------------------------------------


def step_groups(job_id: str) -> list[int]:
    """Process groups of the job steps (``srun``) of the current run."""
    steps = job_dir(job_id) / "steps"
    return [int(read_json(p, {}).get("pgid", 0)) for p in steps.glob("*.json")]


def alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def send(job_id: str, record: dict, sig: int, *, batch: bool, steps: bool) -> None:
    """``sig`` to the batch step's processes and/or to every job step's processes."""
    groups = step_groups(job_id) if steps else []
    if batch and record.get("batch_pgid"):
        groups.append(int(record["batch_pgid"]))
    for group in groups:
        if group > 1:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
    event(job_id, "signal", signal=signal.Signals(sig).name, batch=batch, steps=steps)


def signal_batch_shell(job_id: str, record: dict, sig: int) -> None:
    """``sig`` to the batch shell process alone (``--signal=B:...``, ``scancel --batch``)."""
    if record.get("batch_pgid"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(record["batch_pgid"]), sig)
    event(job_id, "signal", signal=signal.Signals(sig).name, batch_shell_only=True)


def live_groups(job_id: str, record: dict) -> list[int]:
    groups = step_groups(job_id) + [int(record.get("batch_pgid") or 0)]
    return [group for group in groups if group > 1 and alive(group)]


# --- state changes ---------------------------------------------------------------------------


def end_run(job_id: str, record: dict, state: str, *, requeue: bool = False) -> None:
    """Terminate the running job: the new state and COMPLETING now; the runner then sends
    SIGCONT and SIGTERM to every process (batch step included) and SIGKILL after KillWait.
    (As in SLURM, the caller gets its answer first: the caller may be one of the processes.)"""
    record["state"] = state
    record["completing"] = True
    record["requeue_flag"] = requeue
    record["terminate"] = True
    record["killed"] = False
    event(job_id, "terminate", state=state)


def terminate_now(job_id: str, record: dict) -> None:
    """The node's side of :func:`end_run`: SIGCONT and SIGTERM to every process now, SIGKILL
    due after KillWait."""
    record["terminate"] = False
    record["kill_at"] = time.time() + setting("STANDIN_KILL_WAIT", 30)
    send(job_id, record, signal.SIGCONT, batch=True, steps=True)
    send(job_id, record, signal.SIGTERM, batch=True, steps=True)


def cancel(job_id: str, record: dict) -> None:
    """``scancel`` without ``--signal``: a pending job is cancelled at once, a running one
    goes through :func:`end_run`; a finished or completing one is left alone."""
    if record["state"] == PENDING and not record.get("completing"):
        record["state"] = CANCELLED
        record["requid"] = os.getuid()
        event(job_id, "cancel", running=False)
    elif record["state"] == RUNNING and not record.get("completing"):
        record["requid"] = os.getuid()
        event(job_id, "cancel", running=True)
        end_run(job_id, record, CANCELLED)


def requeue(job_id: str, record: dict, incomplete: bool) -> str | None:
    """``scontrol requeue [Incomplete]``: None when done (or, with Incomplete, when the job is
    not running and nothing is done), else slurm_strerror's text of the refusal."""
    if incomplete and record["state"] != RUNNING:
        event(job_id, "requeue", done=False, incomplete=True, state=record["state"])
        return None
    if not record.get("requeueable", True):
        return "Requested operation is presently disabled"
    if record["state"] == PENDING:
        return "Job is pending execution"
    record["restarts"] = int(record.get("restarts", 0)) + 1
    record["requid"] = None
    event(job_id, "requeue", done=True, incomplete=incomplete, state=record["state"])
    if record["state"] == RUNNING and not record.get("completing"):
        end_run(job_id, record, PENDING, requeue=True)
    elif record.get("completing"):
        record["state"] = PENDING  # pending once the ending run's processes are gone
    else:  # finished: pending again now; a new runner starts it
        record["state"] = PENDING
        record["eligible_at"] = time.time() + setting("STANDIN_REQUEUE_DELAY", 1)
        record["needs_runner"] = True
    return None


# --- what the query commands show -------------------------------------------------------------


def squeue_state(record: dict) -> str:
    """The state as squeue and scontrol show it (job_state_string: a flag before the base)."""
    if record.get("completing"):
        return "COMPLETING"
    return record.get("state", PENDING)


def sacct_state(record: dict) -> str:
    """The state as sacct shows it: the run being requeued as REQUEUED, a cancelled job as
    ``CANCELLED by <uid>`` (sacct's print of State when the requester is known)."""
    if record.get("requeue_flag") and record.get("completing"):
        return "REQUEUED"
    state = record.get("state", PENDING)
    if state == CANCELLED and record.get("requid") is not None:
        return f"CANCELLED by {record['requid']}"
    return state


def all_ids() -> list[str]:
    folder = state_dir() / "jobs"
    if not folder.exists():
        return []
    return sorted((p.name for p in folder.iterdir() if p.is_dir()), key=int)

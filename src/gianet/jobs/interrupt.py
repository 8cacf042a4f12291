"""Stopping a long job early and cleanly, and coming back: signals, exit status, SLURM requeue.

A cluster ends a job with SIGTERM, at its time limit or when it is preempted; gianet's SLURM
rules also ask SLURM for SIGTERM some minutes *before* the limit (``sbatch --signal``), so a
job has time to act. SIGUSR1 is treated the same (send it by hand to stop a run cleanly).

- Training collects the signal (:func:`stop_requests`), saves its state at the next step and
  raises :class:`JobInterrupted`; evaluation has nothing worth saving and stops at once
  (:func:`stop_raises`).
- The command line then asks SLURM to requeue the job (:func:`requeue_current_job`): the same
  job id goes back to the queue and, when it runs again, the very same rule resumes from the
  saved state, however many time limits that takes. Snakemake sees the job as pending or
  running throughout, so no retry budget is spent and a real failure is never retried.
- Outside SLURM (or when the requeue is refused) the job exits with :data:`EXIT_INTERRUPTED`
  and rerunning the workflow resumes it.

Why SIGTERM and not SIGUSR1 for the early warning: SLURM signals every process of the job
step, and the step's first process is Snakemake's job runner, which SIGUSR1 would kill on the
spot (taking the training with it) but which waits for its running job on SIGTERM. The rule's
shell ignores both signals (``trap '' TERM USR1``) so that it, and the ``tee`` writing the
log, outlive the job they wrap and the interruption message reaches the log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gianet.atomic import append_file
from gianet.errors import GianetError

#: Signals that ask a job to save what it can and stop.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
#: Exit status of a job stopped by a signal: sysexits' EX_TEMPFAIL, "try again later".
EXIT_INTERRUPTED = 75


class JobInterrupted(GianetError, RuntimeError):
    """A stop signal arrived; the message says what was saved and how the job resumes."""


@contextlib.contextmanager
def _handling(handler: Callable[[int, object], None]) -> Iterator[None]:
    """``handler`` for every stop signal while the block runs; the previous ones after."""
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, former in previous.items():
            signal.signal(sig, former)


@contextlib.contextmanager
def stop_requests() -> Iterator[list[int]]:
    """Collect SIGTERM/SIGUSR1 arrivals in a list instead of dying at once.

    The caller checks the list at safe points (between training steps) and stops there.
    Handlers are installed even when the signals were ignored on entry (the rule's shell
    ignores them), and the previous dispositions are restored on exit.
    """
    received: list[int] = []
    with _handling(lambda number, _frame: received.append(number)):
        yield received


@contextlib.contextmanager
def stop_raises(what: str) -> Iterator[None]:
    """Turn SIGTERM/SIGUSR1 into :class:`JobInterrupted` at once, for work that a rerun simply
    starts again (``what`` names it in the message)."""

    def interrupt(number: int, _frame: object) -> None:
        raise JobInterrupted(
            f"{what}: signal {number} received; stopped before its results were written "
            "(files it wrote on the way are replaced by the rerun). Rerun to start it again."
        )

    with _handling(interrupt):
        yield


def slurm_job_id() -> str | None:
    """This process's SLURM job id, when it runs inside a SLURM job."""
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("SLURM_JOBID") or None


def requeue_current_job(timeout: float = 60.0) -> str:
    """Ask SLURM to put this job back in the queue (``scontrol requeue``).

    SLURM then ends this run (SIGTERM, later SIGKILL) and starts the same job again when
    resources allow; ``sbatch --requeue`` (the profile's ``slurm-requeue``) must allow it.

    Returns:
        What happened, for the log: requeued, or why not (not in a SLURM job, no scontrol,
        scontrol's refusal), in which case the job simply exits and a rerun resumes it.
    """
    job = slurm_job_id()
    if job is None:
        return "not in a SLURM job: rerun the workflow to resume"
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return f"SLURM job {job}: no scontrol on PATH to requeue it; rerun the workflow to resume"
    try:
        done = subprocess.run(
            [scontrol, "requeue", job], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"SLURM job {job}: scontrol requeue failed ({exc}); rerun the workflow to resume"
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        return (
            f"SLURM job {job}: scontrol requeue refused ({reason[-1] if reason else 'no reason'}"
            "); rerun the workflow to resume"
        )
    return f"SLURM job {job} requeued: it resumes from the saved state when it runs again"


def note(history: str | Path, message: str) -> None:
    """Append one timestamped line to a job's history file, a log that no rerun erases
    (Snakemake deletes a rule's log before running the job again; this file is no rule's
    output). Lines name the SLURM job when there is one.

    Raises:
        gianet.atomic.LinkRefused: ``history`` is a symbolic link or not a regular file
            (nothing is written through it).
    """
    job = slurm_job_id()
    where = f" [SLURM job {job}]" if job else ""
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}{where} {message}\n"
    with append_file(history, text=True) as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())

"""Stopping a long job early and cleanly, and coming back: signals, exit status, SLURM requeue.

A cluster ends a job with SIGTERM: at its time limit, when a user cancels it (``scancel``,
or Ctrl-C of Snakemake, whose SLURM plugin then calls ``scancel``), when it is preempted.
gianet's SLURM rules also ask SLURM for SIGTERM some minutes *before* the limit (``sbatch
--signal=TERM@<seconds>``, the warning), so a job has time to act. SIGUSR1 is treated the same
(send it by hand to stop a run cleanly).

- Training collects the signal (:func:`stop_requests`), saves its state at the next step and
  raises :class:`JobInterrupted`; evaluation has nothing worth saving and stops at once
  (:func:`stop_raises`).
- The command line then asks SLURM to requeue the job, *only if it is still running*
  (:func:`requeue_current_job`: ``scontrol requeue Incomplete``). After the warning the job
  is RUNNING: SLURM requeues it, the same job id runs again and the very same rule resumes
  from the saved state, however many time limits that takes; Snakemake sees the job pending
  or running throughout, so no retry is spent. After a cancel the job is already CANCELLED,
  after the hard limit TIMEOUT: SLURM leaves it alone (scontrol(1), Incomplete: "only jobs in
  the following states will be requeued: CONFIGURING, RUNNING, STOPPED or SUSPENDED";
  slurmctld's ``_job_requeue_op`` then returns success doing nothing), so a cancel stops the
  job for good. A plain ``scontrol requeue`` would requeue the cancelled job too (the same
  function: "we support requeue of done/exit/exiting jobs").
- Whether SLURM requeued is read back (``scontrol show job``: ``Restarts=`` grew), and the
  message says what happens next: the job resumes by itself, or a rerun of the workflow
  resumes it. Outside SLURM the job exits with :data:`EXIT_INTERRUPTED`.

Why one signal, SIGTERM, for the warning and not a distinct one: SLURM sends ``--signal``
either to every process of the job steps or (``B:``) to the batch shell alone. The step's first
process is Snakemake's job runner (the plugin's ``srun ... snakemake``): SIGUSR1 or SIGUSR2
would kill it on the spot, taking the training with it, while it waits for its running job on
SIGTERM. The batch shell is the plugin's ``--wrap`` script, which traps nothing: ``B:USR1``
would end the whole job. So the warning and a cancel both arrive as SIGTERM, and SLURM's own
state (RUNNING or not), which ``Incomplete`` consults, tells them apart. Once signalled, the
job runner fails its job however the job ends (it exits after it with an error, and the plugin
then removes the job's outputs), so training keeps its state even when the signal comes after
its last step, and the next run writes the weights. The rule's shell
ignores both signals (``trap '' TERM USR1``) so that it, and the ``tee`` writing the log,
outlive the job they wrap and the interruption message reaches the log. (A cluster's
``RequeueExit`` could requeue on exit status 75 too, but it is an administrator's setting.)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gianet.errors import GianetError
from gianet.jobs.history import note

__all__ = [
    "EXIT_INTERRUPTED",
    "STOP_SIGNALS",
    "JobInterrupted",
    "Requeue",
    "note",
    "requeue_current_job",
    "requeue_decided",
    "slurm_job_id",
    "stop_raises",
    "stop_requests",
]

#: Signals that ask a job to save what it can and stop.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
#: Exit status of a job stopped by a signal: sysexits' EX_TEMPFAIL, "try again later".
EXIT_INTERRUPTED = 75


class JobInterrupted(GianetError, RuntimeError):
    """A stop signal arrived; the message says what was saved."""


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


@dataclass(frozen=True)
class Requeue:
    """What :func:`requeue_current_job` achieved.

    ``requeued``: True when SLURM put the job back in the queue (it runs again by itself),
    False when it did not (not in SLURM, refused, or the job was cancelled or timed out), None
    when it was asked but the answer could not be read back. ``message`` says it for the log.
    """

    requeued: bool | None
    message: str

    def __str__(self) -> str:
        return self.message


_decided: Requeue | None = None


def requeue_decided() -> Requeue | None:
    """The outcome of this process's :func:`requeue_current_job`, if it was called."""
    return _decided


def _scontrol(arguments: list[str], timeout: float) -> tuple[int, str]:
    """Run ``scontrol`` (raises FileNotFoundError when it is not on PATH)."""
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        raise FileNotFoundError("scontrol")
    try:
        done = subprocess.run(
            [scontrol, *arguments], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return 1, f"no answer within {timeout:.0f} s"
    output = (done.stdout if done.returncode == 0 else done.stderr or done.stdout).strip()
    return done.returncode, output


def _show_job(job: str, timeout: float) -> dict[str, str]:
    """``scontrol show job``'s ``Key=value`` fields (empty when it fails)."""
    code, shown = _scontrol(["show", "job", job], timeout)
    return dict(re.findall(r"\b(\w+)=(\S*)", shown)) if code == 0 else {}


def requeue_current_job(timeout: float = 60.0) -> Requeue:
    """Ask SLURM to put this job back in the queue if it is still running (``scontrol requeue
    Incomplete``), and read back whether it did: ``scontrol show job``'s ``Restarts=`` before
    and after (SLURM counts every requeue; ``SLURM_RESTART_COUNT`` is no help in a rule, as
    the jobstep plugin removes it from the step's environment).

    SLURM then ends this run (SIGTERM, later SIGKILL) and starts the same job again when
    resources allow; ``sbatch --requeue`` (the profile's ``slurm-requeue``) must allow it.
    Called twice in one process, it asks once and answers the same.
    """
    global _decided
    if _decided is None:
        _decided = _requeue(timeout)
    return _decided


def _requeue(timeout: float) -> Requeue:
    job = slurm_job_id()
    rerun = "rerun the workflow to resume"
    if job is None:
        return Requeue(False, f"not in a SLURM job: {rerun}")
    try:
        before = _show_job(job, timeout)
        code, answer = _scontrol(["requeue", "Incomplete", job], timeout)
        if code != 0:
            reason = answer.splitlines()[-1] if answer else "no reason given"
            return Requeue(False, f"SLURM job {job}: scontrol requeue refused ({reason}); {rerun}")
        after = _show_job(job, timeout)
    except FileNotFoundError:
        return Requeue(False, f"SLURM job {job}: no scontrol on PATH to requeue it; {rerun}")
    restarts = after.get("Restarts")
    if not restarts or not before.get("Restarts"):
        return Requeue(
            None,
            f"SLURM job {job}: requeue asked (only a running job is requeued), its state could "
            f"not be read back; if it does not come back, {rerun}",
        )
    if int(restarts) > int(before["Restarts"]):
        return Requeue(
            True,
            f"SLURM job {job} requeued (restart {restarts}): it runs again by itself "
            "and resumes from the saved state; nothing to do",
        )
    now = f"JobState={after.get('JobState', '?')}"
    return Requeue(
        False,
        f"SLURM job {job} not requeued: it is no longer running ({now}: cancelled, or past its "
        f"time limit) and only a running job is requeued; {rerun}",
    )

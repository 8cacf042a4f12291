"""What a training command does around the training itself, for a cluster's sake: the start
and stop lines of its history, and every run of a requeued SLURM job in the rule's log (each
piece in its own module: :mod:`gianet.jobs.history`, :mod:`gianet.jobs.job_output`,
:mod:`gianet.jobs.interrupt`). One training per model at a time is the command line's lock
on the model (:mod:`gianet.jobs.locks`), which a training waits on while an ending run saves
its state."""

from __future__ import annotations

from pathlib import Path

from gianet.errors import explain, one_line
from gianet.jobs.history import begin_run, note
from gianet.jobs.interrupt import JobInterrupted, requeue_current_job
from gianet.jobs.job_output import job_output_file, record_job_output


def begin_training(history: str | Path, what: str) -> None:
    """Before training (``what`` names it, e.g. "training gia_net on Sony"): keep this SLURM
    job's output for its later runs (replaying its earlier ones), and note the start in
    ``history``."""
    record_job_output(job_output_file(history))
    begin_run(history, what)


def note_stop(history: str | Path, error: Exception) -> None:
    """Note why training stopped; after a stop signal, with what SLURM does next (requeued:
    the job resumes by itself; not: a rerun of the workflow resumes it)."""
    if isinstance(error, JobInterrupted):
        note(history, f"stopped: {error} {requeue_current_job()}")
    else:
        note(history, f"stopped: {one_line(explain(error, 'train') or error, 1000)}")

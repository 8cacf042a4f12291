"""The output of every run of a requeued SLURM job, so that the rule's log shows them all.

A rule's log is written by the rule's shell (``gianet ... 2>&1 | tee -a <log>``), but when
SLURM starts a requeued job again, Snakemake's job runner inside the job (the jobstep
plugin's ``srun snakemake``, executing the job locally) deletes the job's log before it runs
the job (``Job.prepare``: ``remove_existing_output`` removes the logs too). Each run would
leave only its own output there. So a command that may be requeued keeps a copy of what it
prints, per SLURM job (:func:`record_job_output`): a requeued run first prints the earlier
runs' copy (into the fresh log, through ``tee``), then adds its own. The copy goes when the
job ends for good; outside SLURM nothing is kept (a rerun is a new job, and its log starts
afresh).
"""

from __future__ import annotations

import atexit
import contextlib
import sys
from pathlib import Path
from typing import IO, TextIO

from gianet import atomic
from gianet.jobs.interrupt import requeue_decided, slurm_job_id

#: The copy's name, beside the training history.
JOB_OUTPUT = "slurm_job_output.log"


def job_output_file(history: str | Path) -> Path:
    """Where the runs' output of the current SLURM job is kept: beside ``history``."""
    return Path(history).with_name(JOB_OUTPUT)


class _Tee:
    """A text stream that also appends everything written to it to ``copy``."""

    def __init__(self, stream: TextIO, copy: IO[str]) -> None:
        self._stream = stream
        self._copy = copy

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        with contextlib.suppress(OSError, ValueError):
            self._copy.write(text)
            self._copy.flush()
        return written

    def flush(self) -> None:
        self._stream.flush()
        with contextlib.suppress(OSError, ValueError):
            self._copy.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _run_line(job: str, run: int | str) -> str:
    """The line that opens the output of run ``run`` of ``job``."""
    return f"---- run {run} of SLURM job {job} ----"


def _opens_a_run(line: str, job: str) -> bool:
    """Whether ``line`` is a :func:`_run_line` of ``job``."""
    head, tail = "---- run ", f" of SLURM job {job} ----"
    return line.startswith(head) and line.endswith(tail) and line[len(head) : -len(tail)].isdigit()


def _header(job: str) -> str:
    return f"# output of SLURM job {job}, run by run (gianet keeps it until the job ends)\n"


def record_job_output(path: str | Path) -> None:
    """Inside a SLURM job: print the earlier runs' output of this job (a requeued run), then
    copy everything this process prints to stdout and stderr into ``path``, until it exits.

    A later run of the job is one that finds this job's copy (``SLURM_RESTART_COUNT`` cannot
    tell: the jobstep plugin removes it from the rule's environment). At exit the copy is
    removed unless SLURM requeued the job (the next run replays it); a run killed outright
    leaves it for the next run. Does nothing outside SLURM.
    """
    job = slurm_job_id()
    if job is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = _header(job)
    earlier = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    # A copy of this very job: a later run (job ids are not reused while a copy can last).
    later = earlier.startswith(header)
    run = 1 + sum(_opens_a_run(line, job) for line in earlier.splitlines()) if later else 1
    if later:
        sys.stdout.write(
            f"==== output of the earlier runs of SLURM job {job}, kept by gianet (Snakemake "
            "empties this log whenever SLURM starts the job again) ====\n"
        )
        sys.stdout.write(earlier[len(header) :])
        sys.stdout.flush()
    else:
        atomic.write_text(path, header)
    copy = atomic.append_file(path, text=True)  # closed at exit; never through a link
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(sys.stdout, copy), _Tee(sys.stderr, copy)
    print(_run_line(job, run), flush=True)

    def finish() -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr = streams
        copy.close()
        decided = requeue_decided()
        if decided is None or decided.requeued is False:
            path.unlink(missing_ok=True)

    atexit.register(finish)

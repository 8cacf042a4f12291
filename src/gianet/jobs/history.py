"""A training's history file: one timestamped line per start, resume point, stop and end.

``train_history.log`` lives beside the weights and is no rule's output, so no rerun erases
it (Snakemake deletes a rule's log before it runs the job again). Lines name the SLURM job
when there is one::

    2025-01-02T03:04:05+0000 [SLURM job 12] training gia_net on Sony: started
    2025-01-02T03:04:09+0000 [SLURM job 12] ...: resuming gia_net on Sony at epoch 31, step 2
    2025-01-02T09:54:01+0000 [SLURM job 12] stopped: ... SLURM job 12 requeued (restart 1) ...

A run that was killed outright (SIGKILL: KillWait over after a cancel or a time limit, out of
memory, a node failure) writes no stop line; the next start says so first
(:func:`begin_run`).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from gianet.atomic import append_file, open_regular

#: How a run's start line ends, and how its end lines begin.
STARTED = ": started"
ENDS = ("stopped:", "finished:")
#: What the next start notes when the previous run left no end line.
NO_STOP_LINE = "previous run ended without a stop line"

_LINE = re.compile(r"^(?P<when>\S+)(?P<where> \[SLURM job [^\]]+\])? (?P<message>.*)$")


def _where() -> str:
    job = os.environ.get("SLURM_JOB_ID") or os.environ.get("SLURM_JOBID")
    return f" [SLURM job {job}]" if job else ""


def note(history: str | Path, message: str) -> None:
    """Append one timestamped line to ``history`` (created with its folder if need be).

    Raises:
        gianet.atomic.LinkRefused: ``history`` is a symbolic link or not a regular file
            (nothing is written through it).
    """
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}{_where()} {message}\n"
    with append_file(history, text=True) as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _read(path: Path) -> str:
    """The history's text, read only from a regular file (:func:`gianet.atomic.open_regular`:
    a link or a FIFO planted there is refused in one line, never followed or waited on)."""
    with open_regular(path) as handle:
        return handle.read().decode("utf-8", errors="replace")


def unfinished_start(history: str | Path) -> str | None:
    """The time and job of the last run's start line when no end line followed it (the run
    was killed outright); None when the last run ended with a line, or there was none."""
    path = Path(history)
    if not path.exists():
        return None
    start = None
    for line in _read(path).splitlines():
        parsed = _LINE.match(line)
        if parsed is None:
            continue
        message = parsed["message"]
        if message.endswith(STARTED):
            start = parsed["when"] + (parsed["where"] or "")
        elif message.startswith(ENDS) or message.startswith(NO_STOP_LINE):
            start = None
    return start


def runs_of_this_job(history: str | Path) -> int:
    """How many runs of this process's SLURM job the history has seen start (0 outside
    SLURM): a requeued job's earlier runs."""
    where, path = _where(), Path(history)
    if not where or not path.exists():
        return 0
    lines = _read(path).splitlines()
    return sum(
        parsed is not None and parsed["where"] == where and parsed["message"].endswith(STARTED)
        for parsed in map(_LINE.match, lines)
    )


def begin_run(history: str | Path, what: str) -> None:
    """Note that a run of ``what`` starts (saying which run of its SLURM job, from the
    second on); first, if the previous run left no end line, note that it was killed."""
    earlier = runs_of_this_job(history)
    previous = unfinished_start(history)
    if previous is not None:
        note(
            history,
            f"{NO_STOP_LINE} (started {previous}): it was killed (SIGKILL after a cancel or a "
            "time limit, out of memory, or its node failed); what it saved last is resumed",
        )
    run = f" (run {earlier + 1} of the SLURM job)" if earlier else ""
    note(history, f"{what}{run}{STARTED}")

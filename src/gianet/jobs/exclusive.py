"""One training per model at a time: a lock held by the training process until it exits.

A cancelled SLURM job keeps running for up to KillWait seconds while it saves its state (SIGTERM
first, SIGKILL after KillWait), and a user who stops Snakemake with Ctrl-C may start it again
at once: the new job would then train the same model beside the ending one, both writing its
state and curves. So a training first takes an exclusive lock on ``train.lock`` beside the
weights (``flock``; the kernel releases it when the process ends, however it ends), waiting
for an ending run to let go. Where the filesystem offers no locks, training goes on unguarded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO

from gianet.errors import GianetError

#: The lock's name, beside the training history.
LOCK = "train.lock"

_held: list[IO[str]] = []  # open while this process lives: the lock is held until exit


class ModelBusy(GianetError, RuntimeError):
    """Another process kept training this model for longer than we would wait."""


def _holder() -> str:
    job = os.environ.get("SLURM_JOB_ID")
    where = f"SLURM job {job}, " if job else ""
    return f"{where}process {os.getpid()} on {socket.gethostname()}"


def hold_training_lock(
    history: str | Path,
    wait: float = 300.0,
    poll: float = 1.0,
    say=print,
) -> None:
    """Take the model's training lock (beside ``history``) for the rest of this process.

    Waits up to ``wait`` seconds for another process holding it (an ending run saving its
    state), saying once whom it waits for.

    Raises:
        ModelBusy: the lock is still held after ``wait`` seconds.
    """
    path = Path(history).with_name(LOCK)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (open until exit)
    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                say(f"{path}: this filesystem offers no locks; training unguarded")
                handle.close()
                return
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        if time.monotonic() >= deadline:
            handle.close()
            raise ModelBusy(
                f"{path}: {holder} is still training this model after {wait:.0f} s; stop it "
                "(scancel, or wait for it to end: squeue -u $USER) and rerun"
            )
        if not announced:
            say(f"{path}: waiting for {holder} to end (an earlier run saving its state)")
            announced = True
        time.sleep(poll)
    with contextlib.suppress(OSError):
        handle.seek(0)
        handle.truncate()
        handle.write(_holder())
        handle.flush()
    _held.append(handle)

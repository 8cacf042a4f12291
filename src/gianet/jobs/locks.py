"""One run per output at a time: a lock file beside each output a stage makes.

Before a stage writes an output it takes an exclusive ``flock(2)`` on ``.<name>.lock`` in the
output's folder (:func:`output_lock`, :func:`output_locks`) and writes into that file who holds
it: process id, host, start time and command. A second run of the same output does not wait:
it stops at once with one line naming the holder (:class:`OutputBusy`), because waiting
would only make it redo the same work after the first run (a second training would start
again from the first one's finished model) and a hung holder would make it wait silently.
A short critical section shared by several outputs (the record of checksums that both
cameras' downloads update) waits instead (``wait=True``). A training waits a bounded time
(``wait=`` seconds, :func:`gianet.stages.declaration.stage`'s ``wait_for_outputs``): on a
cluster a cancelled run of the same model may still be saving its state (SLURM's KillWait)
when the next one starts, and the next one resumes from what it saves.

The kernel drops the lock when its holder exits, however it exits (a crash, SIGKILL, a node
that reboots), so a lock is never stale; the lock file is removed on release (a file left by
a killed run is taken over by the next one), and so are the folders made for it that are
still empty (a refused run leaves no trace). Locks are reentrant within a process: a library
function that locks the output its command already locked goes on.

On a shared cluster file system: Linux implements ``flock`` on NFS as a whole-file POSIX
lock (since 2.6.12), held by the NFS server's lock manager (NLM for NFSv3, the protocol
itself for NFSv4), so two nodes exclude each other; a node that dies holding a lock keeps it
until the server reclaims it (NFSv4: the lease, about 90 s; NFSv3: when the node reboots).
Lustre honours ``flock`` across nodes only when mounted with ``-o flock``; BeeGFS and GPFS
do by default. Where the file system refuses locks (``ENOLCK``, ``ENOSYS``, ``EOPNOTSUPP``:
``-o nolock`` NFS, Lustre without ``flock``), one warning line says so and the run goes on
unlocked, as it did before locks existed. On Windows (no ``fcntl``) nothing is locked.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from gianet import atomic
from gianet.errors import GianetError, one_line

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: Errors of a file system that cannot lock (see the module docstring).
_NO_LOCKS = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}
#: Seconds between two tries of a waiting lock.
_POLL = 0.1


class OutputBusy(GianetError, RuntimeError):
    """Another run is making the same output; the message names it and what to do."""


#: Locks this process holds: lock file -> (descriptor, how many times taken, folders made).
_HELD: dict[str, tuple[int, int, list[Path]]] = {}
_WARNED: set[str] = set()


def lock_file(output: str | Path) -> Path:
    """The lock file of ``output``: ``.<name>.lock`` in its folder."""
    output = Path(output).absolute()
    return output.with_name(f".{output.name}.lock")


def holder_record(command: str | None = None) -> dict:
    """What a lock records of its holder: pid, host, start time (ISO 8601), command."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": one_line(command or " ".join(["gianet", *sys.argv[1:]]), 300),
    }


@contextlib.contextmanager
def output_lock(
    output: str | Path, *, command: str | None = None, wait: bool | float = False
) -> Iterator[None]:
    """Hold the lock of ``output`` while the block runs.

    Args:
        output: the file or folder a run makes; its folder is created if missing.
        command: what the lock records as the holder's command (default: this process's
            command line).
        wait: ``True``: wait for the holder to finish instead of refusing (for short
            critical sections shared by several runs; it waits as long as the holder holds
            it); a number: wait at most that many seconds (saying once for whom), then refuse.

    Raises:
        OutputBusy: another process holds it (still, after ``wait`` seconds); names the
            holder.
    """
    key = str(lock_file(output))
    if key in _HELD:
        descriptor, count, made = _HELD[key]
        _HELD[key] = (descriptor, count + 1, made)
        try:
            yield
        finally:
            _release(key)
        return
    made = _make_folders(Path(key).parent)
    try:
        descriptor = _acquire(Path(output), Path(key), command, wait)
    except BaseException:
        _remove_empty(made)
        raise
    _HELD[key] = (descriptor, 1, made)
    try:
        yield
    finally:
        _release(key)


@contextlib.contextmanager
def output_locks(
    outputs: Iterable[str | Path], *, command: str | None = None, wait: float = 0
) -> Iterator[None]:
    """Hold the locks of every output (in one order, so two runs cannot deadlock), waiting
    at most ``wait`` seconds for each.

    Raises:
        OutputBusy: another process holds one of them; those taken are released.
    """
    ordered = sorted({str(lock_file(output)): Path(output) for output in outputs}.items())
    with contextlib.ExitStack() as stack:
        for _, output in ordered:
            stack.enter_context(output_lock(output, command=command, wait=wait or False))
        yield


def _acquire(output: Path, path: Path, command: str | None, wait: bool | float) -> int:
    """Take the lock file ``path`` of ``output``; returns its descriptor (-1: unlocked)."""
    if fcntl is None:
        return -1
    deadline = None if wait is True else time.monotonic() + float(wait)
    announced = False
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)  # again, if a holder removed it
        descriptor = atomic.open_no_follow(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            if deadline is None or time.monotonic() < deadline:
                if not announced and deadline is not None:
                    _say(f"{output}: waiting up to {wait:.0f} s for {_who(path, holder)}")
                    announced = True
                time.sleep(_POLL)
                continue
            raise _busy(output, path, holder, wait) from None
        except OSError as exc:
            os.close(descriptor)
            if exc.errno not in _NO_LOCKS:
                raise
            _warn_unlocked(path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return -1
        if _still_named(descriptor, path):
            with contextlib.suppress(OSError):  # who holds it is a courtesy (a full disk...)
                os.ftruncate(descriptor, 0)
                os.pwrite(descriptor, (json.dumps(holder_record(command)) + "\n").encode(), 0)
            return descriptor
        os.close(descriptor)  # released and removed by its holder meanwhile: take the new one


def _still_named(descriptor: int, path: Path) -> bool:
    """Whether ``path`` still names the file open at ``descriptor`` (a holder removes its
    lock file before releasing it)."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _release(key: str) -> None:
    descriptor, count, made = _HELD[key]
    if count > 1:
        _HELD[key] = (descriptor, count - 1, made)
        return
    del _HELD[key]
    if descriptor >= 0:
        with contextlib.suppress(OSError):
            os.unlink(key)
        os.close(descriptor)
    _remove_empty(made)


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders made for a lock that are still empty, deepest first."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _read_holder(descriptor: int) -> dict | None:
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _who(path: Path, holder: dict | None) -> str:
    if holder is None:
        return f"another process holding {path} (it has not said who yet)"
    return (
        f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')} "
        f"({one_line(holder.get('command'), 160)})"
    )


def _busy(output: Path, path: Path, holder: dict | None, waited: float = 0) -> OutputBusy:
    if holder is None:
        stop = "wait for it to finish or stop it"
    else:
        stop = (
            f"wait for it to finish, or stop it (kill {holder.get('pid')} on {holder.get('host')})"
        )
    after = f" (still, after {waited:.0f} s)" if waited else ""
    return OutputBusy(
        f"{output}: another run is making it{after}: {_who(path, holder)}; {stop}, then run "
        "again. Nothing was changed"
    )


def _say(message: str) -> None:
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr, flush=True)


def _warn_unlocked(path: Path, exc: OSError) -> None:
    if str(path.parent) in _WARNED:
        return
    _WARNED.add(str(path.parent))
    print(
        f"gianet: warning: {path.parent}: the file system refuses locks ({exc.strerror}); two "
        "runs of the same output there are not kept apart (on Lustre, mount with -o flock)",
        file=sys.stderr,
        flush=True,
    )

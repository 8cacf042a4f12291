"""The base of every error a user can fix, and how the command line words the others.

:class:`GianetError` messages name the file or key and the fix. The command line prints such
errors, and the operating system's and the device's errors that a user can fix as well (a
full disk, a permission, a folder where a file belongs, a missing GPU, GPU memory), as one
line without a traceback and exits with 2; see :func:`explain`.
"""

from __future__ import annotations

import errno


class GianetError(Exception):
    """A problem with the user's input or environment, explained in the message."""


#: What to do about an operating-system error, by errno: every error that write(2), open(2),
#: rename(2), fsync(2), mkdir(2), read(2), unlink(2) and flock(2) document and that a user can
#: fix (Linux man-pages). Left out on purpose, so that they keep their traceback: EBADF,
#: EFAULT, EINVAL, ESPIPE, EDESTADDRREQ and EAGAIN (a bug in how a file is used), and EINTR
#: (Python retries it, PEP 475). The libraries the stages write through (numpy, torch,
#: imageio, tifffile, matplotlib, pandas) write into a buffer or through a Python file
#: object, so their write errors arrive here as these OSErrors with their errno.
OS_FIXES = {
    errno.ENOSPC: "no space left on the device: free some space (or point paths.* in "
    "params.yaml elsewhere) and rerun; files already finished are kept",
    errno.EDQUOT: "disk quota exceeded: free some space or raise the quota and rerun; files "
    "already finished are kept",
    errno.EFBIG: "file too large: it passes this process's file-size limit (ulimit -f) or the "
    "largest file the file system holds; raise the limit (ulimit -f unlimited) or write to "
    "another file system, and rerun; files already finished are kept",
    errno.EACCES: "permission denied: make it readable/writable for you or choose another path",
    errno.EPERM: "operation not permitted: check its owner and permissions, or choose another path",
    errno.EROFS: "read-only file system: choose a writable location",
    errno.ETXTBSY: "the file is busy (being executed): stop what uses it or choose another path",
    errno.EBUSY: "busy (in use by the system, a mount point?): choose another path",
    errno.EISDIR: "is a folder where a file belongs: give a file's path",
    errno.ENOTDIR: "a part of this path is a file, not a folder: fix the path",
    errno.ENOENT: "no such file or folder: check the path (or run the stage that makes it)",
    errno.ENAMETOOLONG: "the name is too long for the file system: choose a shorter path",
    errno.ELOOP: "too many levels of symbolic links in the path: fix the links or the path",
    errno.EEXIST: "already exists: move it away or choose another path",
    errno.ENOTEMPTY: "the folder is not empty: move its content away or choose another path",
    errno.EMLINK: "too many links or entries in its folder: choose another folder",
    errno.EXDEV: "cannot be moved across file systems: keep it on one file system (a folder "
    "that is a mount point of another one?)",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) and rerun",
    errno.ENFILE: "the system has too many open files: wait for other jobs to end (or raise "
    "fs.file-max) and rerun",
    errno.ENOMEM: "the kernel ran out of memory: free memory (other jobs?) and rerun",
    errno.EOVERFLOW: "too large for this system's file offsets: use a 64-bit system",
    errno.ENXIO: "no such device or address (a device or FIFO nobody serves?): give a file's path",
    errno.ENODEV: "no such device (a device file, or a file system that cannot map files): "
    "give a regular file on another file system",
    errno.ENOLCK: "no locks available: the file system's lock manager refused; check the "
    "network file system (NFS without lockd?) and rerun",
    errno.ESTALE: "stale file handle: the network file system lost the file; check the mount "
    "and rerun",
    errno.EIO: "input/output error: the disk or network file system failed; check it and rerun",
    errno.ETIMEDOUT: "timed out: the network file system did not answer; check it and rerun",
    errno.EPIPE: "broken pipe: the program reading this output has gone; rerun with the output "
    "going to a file",
}

#: What to do on running out of (host) memory, by stage; a stage not named gets the neutral
#: advice of :data:`_MEMORY_DEFAULT`.
_MEMORY_FIXES = {
    "train": "lower train.batch_size or train.patch (and runtime.loader_workers), or run on "
    "a machine with more memory",
    "evaluate": "evaluation runs whole test frames: lower runtime.loader_workers, or run on a "
    "machine with more memory",
    "enhance": "pass --tile (e.g. --tile 512) to run the frame in windows, or run on a "
    "machine with more memory",
    "pack": "lower --workers (each decodes one raw at a time), or run on a machine with more "
    "memory",
}
_MEMORY_DEFAULT = (
    "free memory (other jobs?) or run on a machine with more memory; if an input file is far "
    "larger than it should be, check it"
)

_CUDA_MISSING = (
    "Torch not compiled with CUDA enabled",
    "No CUDA GPUs are available",
    "Found no NVIDIA driver",
    "CUDA driver version is insufficient",
    "no CUDA-capable device is detected",
)


def one_line(detail: object, limit: int = 200) -> str:
    """An exception's or a library's text as one line of at most ``limit`` characters, for
    quoting inside a message."""
    text = " ".join(str(detail).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain(error: BaseException, stage: str | None = None) -> str | None:
    """One message, naming the file or setting and the fix, for an error a user can fix;
    ``None`` for anything else (a bug, which keeps its traceback).

    The first line of the message is the error; a :class:`GianetError` may add detail lines
    (say, one per file that failed). ``stage`` (``train``, ``enhance`` ...) chooses the
    advice where it depends on what ran (running out of memory).
    """
    if isinstance(error, GianetError):
        return _unwrap_worker_message(error)
    device = _device_problem(error)
    if device is not None:
        return device
    if isinstance(error, MemoryError) or _host_allocation_failed(error):
        where = f" in gianet {stage}" if stage else ""
        return f"out of memory{where}: {_MEMORY_FIXES.get(stage or '', _MEMORY_DEFAULT)}"
    if isinstance(error, OSError) and error.errno in OS_FIXES:
        names = [str(name) for name in (error.filename, error.filename2) if name is not None]
        where = f"{' -> '.join(names)}: " if names else ""
        return f"{where}{OS_FIXES[error.errno]}"
    return None


def _host_allocation_failed(error: BaseException) -> bool:
    """torch's CPU allocator failing ("DefaultCPUAllocator: can't allocate memory"), which it
    raises as a RuntimeError, not a MemoryError."""
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


_WORKER_TRACEBACK = "Original Traceback (most recent call last):"


def _unwrap_worker_message(error: GianetError) -> str:
    """The message itself, also for an error raised in a data-loading worker: torch raises it
    again in the main process with the worker's traceback prepended to the message."""
    text = str(error)
    if _WORKER_TRACEBACK not in text:
        return text
    lines = text.split(_WORKER_TRACEBACK, 1)[1].splitlines()
    names = {f"{type(error).__module__}.{type(error).__qualname__}: ", f"{type(error).__name__}: "}
    for index, line in enumerate(lines):
        for name in names:
            if line.startswith(name):
                return "\n".join([line[len(name) :], *lines[index + 1 :]]).strip()
    return lines[-1].strip() if lines else text


def _device_problem(error: BaseException) -> str | None:
    """Messages for torch's device errors, found by their type and text (torch is not
    imported here: the command line starts without it)."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    kind = type(error).__name__
    module = type(error).__module__ or ""
    if kind == "OutOfMemoryError" or (
        isinstance(error, RuntimeError) and "out of memory" in text and "CUDA" in text
    ):
        return (
            f"out of GPU memory ({one_line(first)}): lower train.batch_size or train.patch, pass "
            "a smaller --tile to enhance, or use a GPU with more memory"
        )
    if isinstance(error, (AssertionError, RuntimeError)) and any(
        sign in text for sign in _CUDA_MISSING
    ):
        return (
            f"CUDA is not usable here ({one_line(first)}): set runtime.device (or --device) to "
            "cpu or auto, or run on a GPU node with a CUDA build of torch"
        )
    if module.startswith("torch") and kind == "AcceleratorError":
        return (
            f"the GPU failed ({one_line(first)}): check the GPU and its driver (nvidia-smi), or "
            "set runtime.device (or --device) to cpu"
        )
    return None

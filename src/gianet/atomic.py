"""Atomic writes: every result reaches its final name complete, or not at all.

A result is written to a temporary file in the same folder (``.<name>.<random>.partial``),
flushed and fsync'ed, then renamed onto its final name with :func:`os.replace` (atomic within
one file system), and the folder is fsync'ed so that the rename survives a power cut. Any
failure on the way (an exception in the writer, a full disk, a refused rename) removes the
temporary file, so the previous good file under that name, if any, is left intact. The file
gets the permissions a plain ``open()`` gives (0666 less the umask), not ``mkstemp``'s 0600.

Every result gianet writes goes through here: archives (the final rename of a download),
cache arrays and manifests, checkpoints, metrics, summaries, sample images, figures, tables,
costs, enhance outputs and the sid-synth files. Writers that need a file object (``np.save``,
``torch.save``, ``Figure.savefig``) use :func:`write_with`.

A rename replaces whatever sits at the final name, a symbolic link included, so a link planted
there never redirects a result. The few files that are appended to or resumed instead (a
job's history, a download's ``.part``, the training curves' series) are opened with
:func:`open_no_follow` / :func:`append_file`: never through a symbolic link (``O_NOFOLLOW``),
never a FIFO, device or folder, and a file with other hard links (say, into DVC's cache) is
first replaced by a copy of its own, so that appending changes no other name's content.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from gianet.errors import GianetError

#: Longest part of the final name kept in the temporary name (NAME_MAX is 255 bytes).
_NAME_KEPT = 180


class OutputPathError(GianetError, IsADirectoryError):
    """The path to write is a folder; the message names it and the fix."""


class LinkRefused(GianetError, OSError):
    """A file to append to or resume is a symbolic link or not a regular file; the message
    names it and the fix (``LinkRefused(errno.ELOOP, message, path)``)."""

    def __str__(self) -> str:
        return str(self.strerror)


def temporary_name(path: Path) -> Path:
    """A fresh hidden sibling of ``path``: ``.<name>.<random>.partial``."""
    return path.with_name(f".{path.name[:_NAME_KEPT]}.{secrets.token_hex(4)}.partial")


def check_writable_target(path: Path) -> None:
    """Refuse a target that is a folder, before any work is done for it.

    Raises:
        OutputPathError: naming ``path`` and the fix.
    """
    if path.is_dir():
        raise OutputPathError(
            f"{path}: is a folder, so a result cannot be written under that name; give a "
            "file path (or move the folder away)"
        )


def check_output_path(path: str | Path) -> None:
    """Refuse, before any work is done for it, a result path that cannot be written: a
    folder, a path under a file, or one in a folder the user may not write to.

    Raises:
        OutputPathError: naming ``path``, the reason and the fix.
    """
    path = Path(path)
    check_writable_target(path)
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputPathError(
            f"{path}: cannot be written: {folder} is a file, not a folder; choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{path}: cannot be written: the folder {folder} is not writable for you; fix its "
            "permissions or choose another path"
        )


def sync_folder(folder: Path) -> None:
    """fsync a folder so that renames inside it are durable (a no-op where unsupported)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def commit(temporary: Path, path: Path) -> Path:
    """Durably move a complete ``temporary`` file onto ``path``: fsync, rename, fsync folder.

    For files written elsewhere in full (a download's ``.part``); on failure ``temporary``
    stays where it is and ``path`` is untouched.
    """
    check_writable_target(path)
    descriptor = open_no_follow(temporary, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    sync_folder(path.parent)
    return path


@contextmanager
def atomic_file(path: str | Path, mode: str = "wb", **open_options: Any) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on success it replaces ``path``.

    Args:
        path: the final file; missing parent folders are created.
        mode: ``"wb"`` or ``"w"`` (text; ``open_options`` such as ``encoding``, ``newline``).

    Raises:
        OutputPathError: ``path`` is a folder.
        OSError: as the file system reports it (permission, full disk ...), naming ``path``
            when the failed call named no file (a write); the temporary file is removed and
            ``path`` keeps its previous content.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_file writes new files: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    check_writable_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    handle = open(temporary, mode.replace("w", "x"), **open_options)  # noqa: SIM115
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:  # a failed write names no file
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


#: What :func:`open_no_follow` found instead of a regular file, by ``stat.S_IFMT``.
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
}
#: Flags of every :func:`open_no_follow` (0 where the platform lacks one).
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NON_BLOCKING = getattr(os, "O_NONBLOCK", 0)


def open_no_follow(path: str | Path, flags: int, mode: int = 0o666) -> int:
    """``os.open(path, flags)`` for a regular file only, never through a symbolic link.

    ``O_NOFOLLOW`` makes the kernel refuse a link at ``path`` itself (a link in a parent
    folder is the user's to make); the file is opened non-blocking, so that a FIFO there
    cannot hang the job, and refused unless it is a regular file.

    Args:
        path: the file.
        flags: ``os.O_RDONLY``, ``os.O_WRONLY | os.O_APPEND | os.O_CREAT`` ...
        mode: permissions of a new file (less the umask).

    Returns:
        The open file descriptor (blocking again), which the caller closes.

    Raises:
        LinkRefused: ``path`` is a symbolic link, a FIFO, a device or a socket.
        OSError: as ``open(2)`` reports it (missing, permission ...).
    """
    path = Path(path)
    try:
        descriptor = os.open(path, flags | _NO_FOLLOW | _NON_BLOCKING, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and path.is_symlink():
            raise _link_refused(path, "a symbolic link") from None
        if exc.errno == errno.ENXIO:  # a FIFO without a reader, opened for writing
            raise _link_refused(path, "a FIFO") from None
        if exc.errno == errno.EISDIR:
            raise _link_refused(path, "a folder") from None
        raise
    kind = stat.S_IFMT(os.fstat(descriptor).st_mode)
    if kind != stat.S_IFREG:
        os.close(descriptor)
        raise _link_refused(path, _KINDS.get(kind, "not a regular file"))
    if _NON_BLOCKING:
        os.set_blocking(descriptor, True)
    return descriptor


def open_regular(path: str | Path, *, text: bool = False) -> IO:
    """Open ``path`` for reading only if it is a regular file (:func:`open_no_follow`): a
    link, a FIFO or a device planted where a job expects one of its own files is refused
    (:class:`LinkRefused`, an ``OSError``) instead of followed or waited on."""
    descriptor = open_no_follow(path, os.O_RDONLY)
    if text:
        return os.fdopen(descriptor, "r", encoding="utf-8")
    return os.fdopen(descriptor, "rb")


def own_folder(path: str | Path) -> Path:
    """Make the folder ``path`` (and its parents) a job writes files into, refusing a symbolic
    link or anything but a folder already there (:class:`LinkRefused`): files are never
    written through a link a job did not make."""
    path = Path(path)
    if path.is_symlink():
        raise _link_refused(path, "a symbolic link")
    if path.exists() and not path.is_dir():
        raise _link_refused(path, "not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _link_refused(path: Path, what: str) -> LinkRefused:
    target = f" (to {os.readlink(path)})" if path.is_symlink() else ""
    return LinkRefused(
        errno.ELOOP,
        f"{path}: is {what}{target}, not a file this job made; gianet appends to or resumes "
        "only its own regular files, never through a link. Remove it (or move it away) and "
        "run again",
        str(path),
    )


def append_file(path: str | Path, *, text: bool = False) -> IO:
    """Open ``path`` for appending (created if missing) through :func:`open_no_follow`.

    A file that has other hard links is first replaced by a copy of its own (atomically),
    so the bytes appended reach this name only: DVC links its cached outputs into the
    workspace, and appending through such a link would change DVC's cache.

    Args:
        path: the file; missing parent folders are created.
        text: open it as UTF-8 text rather than bytes.

    Raises:
        LinkRefused: ``path`` is a symbolic link or not a regular file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    descriptor = open_no_follow(path, flags)
    if os.fstat(descriptor).st_nlink > 1:
        os.close(descriptor)
        _detach(path)
        descriptor = open_no_follow(path, flags)
    if text:
        return os.fdopen(descriptor, "a", encoding="utf-8", newline="")
    return os.fdopen(descriptor, "ab")


def _detach(path: Path) -> None:
    """Replace a hard-linked ``path`` by a copy of its bytes, leaving its other names as
    they are."""
    descriptor = open_no_follow(path, os.O_RDONLY)
    with os.fdopen(descriptor, "rb") as source:
        write_with(path, lambda sink: _copy(source, sink))


def _copy(source: IO[bytes], sink: IO[bytes]) -> None:
    while block := source.read(1 << 20):
        sink.write(block)


def write_with(path: str | Path, writer: Callable[[IO[bytes]], object]) -> Path:
    """Atomically write ``path`` by calling ``writer`` with a binary file object."""
    with atomic_file(path, "wb") as handle:
        writer(handle)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    return write_with(path, lambda handle: handle.write(data))


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` to ``path`` as UTF-8."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, value: Any, *, indent: int | None = 1, **options: Any) -> Path:
    """Atomically write ``value`` to ``path`` as JSON (UTF-8, a final newline)."""
    return write_text(path, json.dumps(value, indent=indent, **options) + "\n")


def save_npy(path: str | Path, array: np.ndarray) -> Path:
    """Atomically write ``array`` to ``path`` in ``.npy`` format (the bytes ``np.save``
    writes).

    The header and the data are written through the file object's ``write``, whose
    ``OSError`` keeps its errno: ``np.save`` hands a real file to ``ndarray.tofile``, which
    reports a full disk or a file-size limit as "N requested and M written", with none.
    """
    return write_with(path, lambda handle: _write_npy(handle, array))


def _write_npy(handle: IO[bytes], array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    header = np.lib.format.header_data_from_array_1_0(array)
    if array.dtype.hasobject:
        raise ValueError("save_npy writes plain arrays, not arrays of Python objects")
    try:
        np.lib.format.write_array_header_1_0(handle, header)
    except ValueError:  # a header longer than format 1.0 holds
        np.lib.format.write_array_header_2_0(handle, header)
    handle.write(memoryview(array.reshape(-1)).cast("B"))


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Atomically write an image with imageio, in the format of ``path``'s suffix."""
    import imageio.v3 as iio

    return write_bytes(path, iio.imwrite("<bytes>", image, extension=Path(path).suffix))


def default_mode(folder: bool = False) -> int:
    """The permissions ``open()`` or ``mkdir()`` would give a new file or folder (umask)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask

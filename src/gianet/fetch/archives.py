"""Is a file a complete archive of the format its name says? Checked before it is trusted.

A download is accepted as an archive only once it passes :func:`verify_archive`: the format's
signature is at the start (so an HTML error page answered with HTTP 200 is refused), and the
archive's own index is readable to its end (the zip central directory, which a body cut short
lacks; every tar member header and, for gzip, the stream's end marker and CRC). A tar must also
hold its end-of-archive blocks. Files whose names carry no archive suffix are not checked.
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from pathlib import Path

from gianet.archive_names import ARCHIVE_FORMATS, archive_suffix_of
from gianet.errors import GianetError, one_line

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP_SIGNATURE = b"\x1f\x8b"
_TAR_MAGIC_OFFSET = 257
_TAR_BLOCK = 512
_BLOCK = 1 << 20


class NotAnArchive(GianetError, ValueError):
    """The file holds something other than the archive its name promises (an error page).

    Attributes:
        reason: the message without the file's path in front (``is not a zip archive: it
            starts like an HTML/XML page ...``).
    """

    reason: str = ""


class IncompleteArchive(GianetError, ValueError):
    """The file starts as the right format but its index cannot be read to the end."""


def archive_format(name: str) -> str | None:
    """``"zip"``, ``"tar.gz"`` or ``"tar"`` from the end of ``name`` (by
    :data:`gianet.archive_names.ARCHIVE_FORMATS`); ``None`` for others."""
    suffix = archive_suffix_of(name)
    return None if suffix is None else ARCHIVE_FORMATS[suffix]


def verify_archive(path: Path, name: str | None = None) -> None:
    """Check that ``path`` is a complete archive of the format ``name`` (default: its own
    name) says; a name without an archive suffix is accepted unchecked.

    Raises:
        NotAnArchive: the signature is missing (the message shows how the file starts).
        IncompleteArchive: the index ends early or is damaged (a truncated body).
    """
    path = Path(path)
    kind = archive_format(name or path.name)
    if kind is None:
        return
    with open(path, "rb") as handle:
        head = handle.read(_TAR_MAGIC_OFFSET + 8)
    if kind == "zip":
        _expect(path, head, head[:4] in _ZIP_SIGNATURES, "a zip archive")
        _verify_zip(path)
    elif kind == "tar.gz":
        _expect(path, head, head[:2] == _GZIP_SIGNATURE, "a gzip-compressed tar archive")
        _verify_tar_gz(path)
    else:
        magic = head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5]
        _expect(path, head, magic == b"ustar", "a tar archive")
        _verify_tar(path)


def _expect(path: Path, head: bytes, ok: bool, what: str) -> None:
    if not ok:
        reason = f"is not {what}: {describe_start(head)}"
        error = NotAnArchive(f"{path}: {reason}")
        error.reason = reason
        raise error


def describe_start(head: bytes) -> str:
    """How a file starts, in words: empty, an HTML page, or its first bytes."""
    if not head:
        return "the file is empty"
    lowered = head.lstrip()[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        return f"it starts like an HTML/XML page ({head[:40]!r}), probably an error page"
    return f"it starts with {head[:16]!r}"


def _verify_zip(path: Path) -> None:
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as bundle:
            infos = bundle.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        raise _incomplete(path, f"its central directory cannot be read ({one_line(exc)})") from None
    for info in infos:
        if info.header_offset + info.compress_size > size:
            raise _incomplete(path, f"member {info.filename!r} runs past the end of the file")


def _verify_tar_gz(path: Path) -> None:
    try:
        with gzip.open(path, "rb") as stream:
            with tarfile.open(fileobj=stream, mode="r|") as bundle:
                for _ in bundle:
                    pass
            while stream.read(_BLOCK):  # the gzip trailer: CRC and length of the whole stream
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        detail = f"its compressed stream or member list ends early ({one_line(exc)})"
        raise _incomplete(path, detail) from None


def _verify_tar(path: Path) -> None:
    size = path.stat().st_size
    try:
        with tarfile.open(path, "r:") as bundle:
            members = bundle.getmembers()
            end = 0
            if members:
                last = members[-1]
                end = last.offset_data + -(-last.size // _TAR_BLOCK) * _TAR_BLOCK
            bundle.fileobj.seek(end)
            trailer = bundle.fileobj.read(2 * _TAR_BLOCK)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise _incomplete(path, f"its member list cannot be read ({one_line(exc)})") from None
    if end > size or trailer != bytes(2 * _TAR_BLOCK):
        raise _incomplete(path, "it ends before the tar end-of-archive blocks")


def _incomplete(path: Path, detail: str) -> IncompleteArchive:
    return IncompleteArchive(f"{path}: incomplete or damaged archive: {detail}")

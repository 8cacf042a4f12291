"""sha256 of files and the checksum files that record them (downloads, weights, the cache).

A checksum file is JSON (``{"Sony2025.zip": "<sha256>"}``) when its name ends in ``.json``
and ``sha256sum`` text (``<sha256>  Sony2025.zip``) otherwise; entries are keyed by file name.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from gianet import atomic
from gianet.errors import GianetError, one_line
from gianet.jobs.locks import output_lock

BLOCK = 1 << 20
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a hex sha256: 64 hex digits, in either case."""
    return _SHA256.fullmatch(text) is not None


class ChecksumFileError(GianetError, ValueError):
    """A checksum file cannot be read; the message names the file, the line and the fix."""


def hash_file(path: Path) -> hashlib._Hash:
    """A sha256 object fed with every byte of ``path`` (more bytes may be added later)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    return hash_file(path).hexdigest()


def read_checksums(checksum_file: Path) -> dict[str, str]:
    """File name -> sha256 from a JSON or ``sha256sum``-format checksum file.

    Raises:
        ChecksumFileError: the file is not UTF-8, not JSON (for ``.json``), or holds an entry
            that is not a file name and a 64-digit hex sha256.
    """
    checksum_file = Path(checksum_file)
    if checksum_file.exists() and not (checksum_file.is_file() or checksum_file.is_dir()):
        raise ChecksumFileError(  # reading a FIFO would wait for a writer for ever
            f"{checksum_file}: not a regular file (a FIFO, device or socket); point the "
            "checksums setting at a file (it is created on the first download)"
        )
    try:
        text = checksum_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _malformed(checksum_file, "is not UTF-8 text") from None
    except IsADirectoryError:
        raise ChecksumFileError(
            f"{checksum_file}: is a folder, not a checksum file; point the checksums setting "
            "at a file (it is created on the first download)"
        ) from None
    if checksum_file.suffix == ".json":
        return _json_checksums(checksum_file, text)
    entries = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(maxsplit=1)
        if len(fields) != 2 or not is_sha256(fields[0]):
            raise _malformed(
                checksum_file, f"line {number} is not '<64-digit sha256>  <file name>'"
            )
        entries[fields[1].strip().lstrip("*")] = fields[0].lower()
    return entries


def _json_checksums(checksum_file: Path, text: str) -> dict[str, str]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise _malformed(checksum_file, f"is not valid JSON ({one_line(exc)})") from None
    if not isinstance(value, dict):
        raise _malformed(checksum_file, "is not a JSON object of file name -> sha256")
    for name, digest in value.items():
        if not isinstance(digest, str) or not is_sha256(digest):
            raise _malformed(checksum_file, f"the entry {name!r} is not a 64-digit hex sha256")
    return {name: digest.lower() for name, digest in value.items()}


def _malformed(checksum_file: Path, problem: str) -> ChecksumFileError:
    return ChecksumFileError(
        f"{checksum_file}: {problem}. gianet writes this file; fix that entry or delete the "
        "file (its digests are then recorded again on the next verified download)"
    )


def read_recorded(checksum_file: Path | None, name: str) -> str | None:
    """The digest recorded for ``name``, or ``None`` when there is none."""
    if checksum_file is None or not checksum_file.exists():
        return None
    return read_checksums(checksum_file).get(name)


def record_sha256(checksum_file: Path, name: str, sha256: str) -> None:
    """Add ``name``'s digest to ``checksum_file``, rewriting it atomically.

    Several downloads record into one file (both cameras' archives, at the same time in a
    workflow): the read, change and write happen under the file's lock, each waiting for
    the other, so that no record is lost.
    """
    with output_lock(checksum_file, wait=True):
        entries = read_checksums(checksum_file) if checksum_file.exists() else {}
        entries[name] = sha256
        if checksum_file.suffix == ".json":
            text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
        else:
            text = "".join(f"{digest}  {key}\n" for key, digest in sorted(entries.items()))
        atomic.write_text(checksum_file, text)


def stat_fingerprint(path: Path, *, changes: bool = False) -> list[int]:
    """``[size, mtime_ns, inode]`` of a file (and with ``changes``, its ctime too): what a
    write, a replacement or a copy changes.

    A file whose fingerprint equals the one recorded when its content was last hashed is
    trusted without reading it again (as DVC trusts its state database only while the stat
    agrees). A write through the file system changes the size or the modification time, a
    replacement or a copy the inode; the modification time can be set back by hand, but not
    the status-change time (ctime), which every write moves too. ctime also moves when the
    file's permissions or link count change (DVC links the files it versions), so it is used
    only for files no tool relinks (the packed cache's arrays).
    """
    stat = path.stat()
    fingerprint = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    return [*fingerprint, stat.st_ctime_ns] if changes else fingerprint

"""The errors of an extraction (:mod:`gianet.fetch.extract`): one type, and the messages that
name the archive, the member and the fix."""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from pathlib import Path

from gianet.errors import GianetError

#: What reading a truncated or corrupt archive raises (zipfile checks each CRC, tarfile each
#: member's length, gzip its trailer's CRC and size).
CORRUPT = (
    zipfile.BadZipFile,
    tarfile.TarError,
    gzip.BadGzipFile,
    EOFError,
    zlib.error,
    NotImplementedError,
)


class ExtractError(GianetError, RuntimeError):
    """An archive was refused or could not be read in full; names the archive and member."""


def unsafe(archive: Path, member: str, reason: str) -> ExtractError:
    """The error refusing ``archive`` because of one member."""
    return ExtractError(
        f"{archive}: refusing to extract anything: member {member!r} {reason}, which could "
        "write outside the target folder or create something other than a plain file."
    )


def conflict(archive: Path, member: str, reason: str) -> ExtractError:
    """The error refusing ``archive`` because a member cannot be written as stored."""
    return ExtractError(
        f"{archive}: refusing to extract anything: member {member!r} {reason}. The archive "
        "is damaged or not the one expected: download it again"
    )


def corrupt(archive: Path, target: Path, detail: str) -> ExtractError:
    """The error for an archive that could not be read in full."""
    return ExtractError(
        f"{archive}: the archive is truncated or corrupt ({detail}); nothing was extracted "
        f"to {target}. Delete it and download it again (download() verifies its sha256)."
    )

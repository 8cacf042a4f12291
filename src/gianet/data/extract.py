"""Safe, all-or-nothing extraction of a zip (SID's archives) or tar archive into its own folder.

The whole member list is checked before anything is written: a member with an absolute path,
a drive letter or a ``..`` component, a symbolic or hard link, or a device file, FIFO or
socket makes the archive refused with nothing extracted. The members are then written into a
temporary sibling of the target (``.<target>.partial-*``) that is renamed to the target only
when every member was read in full and passed its CRC; a truncated or corrupt archive leaves
no target behind. The target then holds a completion marker, ``.extracted.json`` (the
archive's name and size, the prefix, the member count and the files written), so that a rerun
with the same archive returns at once, while a stale or half-made target is extracted again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from tqdm import tqdm

from gianet.errors import GianetError

#: Completion marker written inside a target once every member is in place.
MARKER = ".extracted.json"

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error)
_DRIVE = re.compile(r"^[A-Za-z]:")
_BLOCK = 1 << 20


class ExtractError(GianetError, RuntimeError):
    """An archive was refused or could not be read in full; names the archive and member."""


@dataclass(frozen=True)
class _Member:
    """One archive member: its stored name, its checked relative path, and how to read it."""

    name: str
    path: PurePosixPath
    is_dir: bool
    size: int
    reader: Callable[[], IO[bytes]]


def safe_extract(
    archive: Path,
    target: Path,
    *,
    members_prefix: str | None = None,
    progress: bool = True,
) -> list[Path]:
    """Extract ``archive`` into ``target`` all at once, or not at all.

    Args:
        archive: a ``.zip``, ``.tar``, ``.tar.gz`` or ``.tgz`` file.
        target: the folder to create; it must not exist, be empty, or have been made by an
            earlier ``safe_extract`` (it is then replaced, or kept if already complete).
        members_prefix: extract only the members under this folder of the archive, with the
            prefix removed from their paths (``"Sony"`` puts ``Sony/short/x.ARW`` at
            ``target/short/x.ARW``); ``None`` extracts everything as stored.
        progress: show a tqdm progress bar over the bytes written.

    Returns:
        The extracted files (no folders), sorted.

    Raises:
        ExtractError: an unsafe member (nothing is written), an archive that is truncated or
            corrupt (no target is left), no files under ``members_prefix``, an unsupported
            archive type, or a ``target`` holding files that ``safe_extract`` did not make.
    """
    archive, target = Path(archive), Path(target)
    completed = _completed_files(archive, target, members_prefix)
    if completed is not None:
        return completed
    _check_replaceable(target)
    try:
        with _open_members(archive) as members:
            selected = _select(archive, members, members_prefix)
            staging = _new_staging(target)
            try:
                files = _write_members(archive, selected, staging, progress)
                marker = {
                    "archive": archive.name,
                    "size": archive.stat().st_size,
                    "members_prefix": members_prefix,
                    "members": len(selected),
                    "files": files,
                }
                (staging / MARKER).write_text(json.dumps(marker, indent=1))
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except _CORRUPT as error:
        raise _corrupt(archive, target, str(error)) from error
    _move_into_place(staging, target)
    return [target / name for name in files]


def _completed_files(archive: Path, target: Path, prefix: str | None) -> list[Path] | None:
    """The files of a complete earlier extraction of the same archive, else ``None``."""
    marker = target / MARKER
    if not marker.is_file():
        return None
    record = json.loads(marker.read_text())
    made_from = (record.get("archive"), record.get("size"), record.get("members_prefix"))
    if made_from != (archive.name, archive.stat().st_size, prefix):
        return None
    files = [target / name for name in record.get("files", [])]
    return files if all(path.is_file() for path in files) else None


def _check_replaceable(target: Path) -> None:
    """Refuse a non-empty ``target`` that has no marker (it was not made by us)."""
    if target.is_dir() and not (target / MARKER).exists() and any(target.iterdir()):
        raise ExtractError(
            f"{target} already holds files but no {MARKER}, so safe_extract did not make it. "
            "Move it away or extract into another folder; nothing was extracted."
        )


def _open_members(archive: Path) -> AbstractContextManager[list[_Member]]:
    """Open ``archive`` by its suffix and list its members, all checked for safety."""
    name = archive.name.lower()
    if name.endswith(".zip"):
        return _zip_members(archive)
    if name.endswith(_TAR_SUFFIXES):
        return _tar_members(archive)
    raise ExtractError(f"{archive}: unsupported archive type (expected .zip, .tar, .tar.gz, .tgz)")


@contextmanager
def _zip_members(archive: Path) -> Iterator[list[_Member]]:
    """The checked members of a zip; links and special files are found by their Unix mode."""
    with zipfile.ZipFile(archive) as bundle:
        members = []
        for info in bundle.infolist():
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise _unsafe(archive, info.filename, "is a symbolic link")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise _unsafe(archive, info.filename, "is a device file, FIFO or socket")
            path = _safe_path(archive, info.filename)
            reader = partial(bundle.open, info)
            members.append(_Member(info.filename, path, info.is_dir(), info.file_size, reader))
        yield members


@contextmanager
def _tar_members(archive: Path) -> Iterator[list[_Member]]:
    """The checked members of a (possibly gzipped) tar; only files and folders pass."""
    with tarfile.open(archive) as bundle:
        members = []
        for info in bundle.getmembers():
            if info.issym():
                raise _unsafe(archive, info.name, f"is a symbolic link to {info.linkname!r}")
            if info.islnk():
                raise _unsafe(archive, info.name, f"is a hard link to {info.linkname!r}")
            if not (info.isfile() or info.isdir()):
                raise _unsafe(archive, info.name, "is a device file or FIFO")
            path = _safe_path(archive, info.name)
            reader = partial(bundle.extractfile, info)
            members.append(_Member(info.name, path, info.isdir(), info.size, reader))
        yield members


def _safe_path(archive: Path, name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside the target, or an :class:`ExtractError`.

    Backslashes count as separators, so Windows-style ``..\\x`` is caught too.
    """
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")):
        raise _unsafe(archive, name, "has an absolute path")
    if _DRIVE.match(name):
        raise _unsafe(archive, name, "starts with a drive letter")
    if ".." in parts:
        raise _unsafe(archive, name, "has a '..' component")
    if "\x00" in name:
        raise _unsafe(archive, name, "has a NUL byte in its name")
    return PurePosixPath(*(part for part in parts if part not in ("", ".")))


def _select(archive: Path, members: list[_Member], prefix: str | None) -> list[_Member]:
    """The members to write, relative to ``prefix`` when one is given."""
    if prefix is not None:
        root = PurePosixPath(prefix.strip("/"))
        members = [
            replace(member, path=member.path.relative_to(root))
            for member in members
            if root in member.path.parents or member.path == root
        ]
    members = [member for member in members if member.path.parts]
    if not any(not member.is_dir for member in members):
        where = f" under {prefix!r}" if prefix is not None else ""
        raise ExtractError(f"{archive}: no files{where}; nothing was extracted.")
    return members


def _new_staging(target: Path) -> Path:
    """A fresh temporary sibling of ``target``, after removing those of interrupted runs."""
    prefix = f".{target.name}.partial-"
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.iterdir():
        if leftover.name.startswith(prefix):
            shutil.rmtree(leftover)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))


def _write_members(
    archive: Path, members: list[_Member], staging: Path, progress: bool
) -> list[str]:
    """Write ``members`` under ``staging``; returns the files written, sorted.

    A truncated or corrupt member raises one of ``_CORRUPT`` (zipfile checks each CRC, tarfile
    each member's length) and leaves ``staging`` partly written.
    """
    total = sum(member.size for member in members if not member.is_dir)
    files = set()
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=archive.name,
        disable=not progress,
    ) as bar:
        for member in members:
            path = staging.joinpath(*member.path.parts)
            if member.is_dir:
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with member.reader() as source, open(path, "wb") as sink:
                while block := source.read(_BLOCK):
                    sink.write(block)
                    bar.update(len(block))
            files.add(member.path.as_posix())
    return sorted(files)


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing an earlier stale or half-made extraction."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        os.rename(target, old / target.name)
        os.rename(staging, target)
        shutil.rmtree(old)
    else:
        os.rename(staging, target)


def _unsafe(archive: Path, member: str, reason: str) -> ExtractError:
    """The error refusing ``archive`` because of one member."""
    return ExtractError(
        f"{archive}: refusing to extract anything: member {member!r} {reason}, which could "
        "write outside the target folder or create something other than a plain file."
    )


def _corrupt(archive: Path, target: Path, detail: str) -> ExtractError:
    """The error for an archive that could not be read in full."""
    return ExtractError(
        f"{archive}: the archive is truncated or corrupt ({detail}); nothing was extracted "
        f"to {target}. Delete it and download it again (download() verifies its sha256)."
    )

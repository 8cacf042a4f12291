"""Safe, all-or-nothing extraction of a zip (SID's archives) or tar archive into its own folder.

The whole member list is checked before anything is written: a member with an absolute path,
a drive letter or a ``..`` component, a symbolic or hard link, a device file, FIFO or socket,
an encrypted member, two members with the same name, a member that is both a file and a
folder, or a name longer than the file system allows makes the archive refused with nothing
extracted. So does an archive whose members add up to more than the free disk space (a zip
bomb fills no disk). The members are then written into a temporary sibling of the target
(``.<target>.partial-*``, with the usual folder permissions) that is renamed to the target
only when every member was read in full and passed its CRC; a truncated or corrupt archive,
or a disk that fills up anyway, leaves no target behind.

One extraction into a target at a time: the target's lock (:mod:`gianet.jobs.locks`) is held
from the check of an earlier extraction to the final rename, so a second run started
meanwhile stops with a line naming the first (without it, the second removed the first's
temporary folder as a leftover while the first was still filling it).

The target then holds a completion marker, ``.extracted.json`` (the archive's name and size,
the prefix, the member count and the files written), so that a rerun with the same archive
returns at once, while a stale or half-made target is extracted again. Extraction never
deletes what it did not create: a file or a folder of the user's at the target, or files a
user added inside an earlier extraction, make it stop with a message naming them and the fix.
"""

from __future__ import annotations

import errno
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

from gianet.atomic import default_mode
from gianet.errors import OS_FIXES, GianetError, one_line
from gianet.fetch.archives import archive_format
from gianet.jobs.locks import output_lock
from gianet.paths import ARCHIVE_SUFFIXES

#: Completion marker written inside a target once every member is in place.
MARKER = ".extracted.json"
#: Free space kept beyond the archive's content (file system overhead, other writers).
SPACE_MARGIN = 64 << 20

_CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, NotImplementedError)
_DRIVE = re.compile(r"^[A-Za-z]:")
_BLOCK = 1 << 20
_NAME_MAX, _PATH_MAX = 255, 4096
_FULL = (errno.ENOSPC, errno.EDQUOT)


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
            earlier ``safe_extract`` and hold nothing else (it is then replaced, or kept if
            already complete).
        members_prefix: extract only the members under this folder of the archive, with the
            prefix removed from their paths (``"Sony"`` puts ``Sony/short/x.ARW`` at
            ``target/short/x.ARW``); ``None`` extracts everything as stored.
        progress: show a tqdm progress bar over the bytes written.

    Returns:
        The extracted files (no folders), sorted.

    Raises:
        ExtractError: an unsafe or conflicting member, or too little disk space (nothing is
            written), an archive that is truncated or corrupt or a disk that fills up (no
            target is left), no files under ``members_prefix``, an unsupported archive type,
            or a ``target`` holding anything that ``safe_extract`` did not make.
        gianet.jobs.locks.OutputBusy: another process is extracting into ``target``.
    """
    archive, target = Path(archive), Path(target)
    with output_lock(target):
        return _extract(archive, target, members_prefix, progress)


def _extract(archive: Path, target: Path, members_prefix: str | None, progress: bool) -> list[Path]:
    """:func:`safe_extract`, under the lock of ``target``."""
    record = _read_marker(target) if target.is_dir() and not target.is_symlink() else None
    completed = _completed_files(archive, target, members_prefix, record)
    if completed is not None:
        return completed
    _check_replaceable(target, record)
    try:
        with _open_members(archive) as members:
            selected = _select(archive, members, members_prefix)
            _check_names(archive, selected, target)
            staging = _new_staging(target)
            try:
                _check_space(archive, selected, staging)
                files = _write_members(archive, selected, staging, target, progress)
                marker = {
                    "archive": archive.name,
                    "size": archive.stat().st_size,
                    "members_prefix": members_prefix,
                    "members": len(selected),
                    "files": files,
                    "folders": sorted({m.path.as_posix() for m in selected if m.is_dir}),
                }
                _write_or_explain(
                    lambda: (staging / MARKER).write_text(json.dumps(marker, indent=1)),
                    archive,
                    target,
                    MARKER,
                )
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except _CORRUPT as error:
        raise _corrupt(archive, target, one_line(error)) from error
    _move_into_place(staging, target)
    return [target / name for name in files]


def _read_marker(target: Path) -> dict | None:
    """The marker of an earlier extraction into ``target``; ``None`` when there is none.

    Raises:
        ExtractError: a marker that is not the JSON object gianet writes.
    """
    marker = target / MARKER
    if not marker.is_file():
        return None
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_marker(marker, f"not JSON ({one_line(exc)})") from None
    files = record.get("files") if isinstance(record, dict) else None
    folders = record.get("folders", []) if isinstance(record, dict) else None
    listed = [files, folders]
    if not all(
        isinstance(names, list) and all(isinstance(n, str) for n in names) for names in listed
    ):
        raise _bad_marker(marker, "not the record gianet writes (no list of files)")
    for name in files + folders:
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or ".." in parts:
            raise _bad_marker(marker, f"lists {name!r}, which is not a path inside {target}")
    return record


def _bad_marker(marker: Path, problem: str) -> ExtractError:
    return ExtractError(
        f"{marker}: the extraction marker is damaged: {problem}, so what was extracted there "
        f"is unknown. Move any files of yours out of {marker.parent}, delete that folder and "
        "run again"
    )


def _completed_files(
    archive: Path, target: Path, prefix: str | None, record: dict | None
) -> list[Path] | None:
    """The files of a complete earlier extraction of the same archive (``record``, the
    target's marker, says which), else ``None``."""
    if record is None:
        return None
    made_from = (record.get("archive"), record.get("size"), record.get("members_prefix"))
    if made_from != (archive.name, archive.stat().st_size, prefix):
        return None
    files = [target / name for name in record["files"]]
    return files if all(path.is_file() for path in files) else None


def _check_replaceable(target: Path, record: dict | None) -> None:
    """Refuse a ``target`` holding anything that ``safe_extract`` did not make (``record``:
    its marker, ``None`` when it has none)."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        kind = "a symbolic link" if target.is_symlink() else "a file"
        raise ExtractError(
            f"{target}: is {kind}, not a folder made by an earlier extraction; move it away "
            "(or extract elsewhere) and run again; nothing was extracted"
        )
    if not target.is_dir():
        return
    if record is None:
        if any(target.iterdir()):
            raise ExtractError(
                f"{target} already holds files but no {MARKER}, so safe_extract did not make "
                "it. Move it away or extract into another folder; nothing was extracted."
            )
        return
    made = {PurePosixPath(MARKER)}
    for name in [*record["files"], *record.get("folders", [])]:
        path = PurePosixPath(name)
        made.add(path)
        made.update(path.parents)
    theirs = sorted(
        relative
        for path in target.rglob("*")
        if PurePosixPath(relative := path.relative_to(target).as_posix()) not in made
    )
    if theirs:
        shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5 else "")
        raise ExtractError(
            f"{target}: holds files that an earlier extraction did not write ({shown}); "
            "move them out of it and run again to extract the archive afresh; nothing was "
            "changed"
        )


def _open_members(archive: Path) -> AbstractContextManager[list[_Member]]:
    """Open ``archive`` by its suffix and list its members, all checked for safety."""
    kind = archive_format(archive.name)
    if kind == "zip":
        return _zip_members(archive)
    if kind in ("tar", "tar.gz"):
        return _tar_members(archive)
    expected = ", ".join(ARCHIVE_SUFFIXES)
    raise ExtractError(f"{archive}: unsupported archive type (expected {expected})")


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
            if info.flag_bits & 0x1:
                raise _unsafe(archive, info.filename, "is encrypted")
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


def _check_names(archive: Path, members: list[_Member], target: Path) -> None:
    """Refuse duplicate files, a member that is both a file and a folder, and names the file
    system cannot hold, before anything is written."""
    files: dict[PurePosixPath, str] = {}
    folders: dict[PurePosixPath, str] = {}
    for member in members:
        if member.is_dir:
            folders.setdefault(member.path, member.name)
            continue
        if member.path in files:
            raise _conflict(
                archive, member.name, f"is stored twice (also as {files[member.path]!r})"
            )
        files[member.path] = member.name
        for parent in member.path.parents:
            folders.setdefault(parent, member.name)
    for path, name in files.items():
        if path in folders:
            raise _conflict(archive, name, f"is a file, and {folders[path]!r} makes it a folder")
    limits = _name_limits(target.parent)
    base = len(os.fsencode(str(target.parent.absolute()))) + 64  # the staging folder's name
    for member in members:
        longest = max(len(os.fsencode(part)) for part in member.path.parts)
        if longest > limits[0] or base + len(os.fsencode(str(member.path))) > limits[1]:
            raise _conflict(
                archive,
                member.name,
                f"has a name longer than this file system allows ({limits[0]} bytes per "
                f"name, {limits[1]} per path); extract the archive on another file system",
            )


def _name_limits(folder: Path) -> tuple[int, int]:
    """(longest name, longest path) in bytes on the file system holding ``folder``."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError):
        return _NAME_MAX, _PATH_MAX


def _check_space(archive: Path, members: list[_Member], staging: Path) -> None:
    """Refuse an archive whose files add up to more than the free space (a zip bomb)."""
    total = sum(member.size for member in members if not member.is_dir)
    free = shutil.disk_usage(staging).free
    if total + SPACE_MARGIN > free:
        raise ExtractError(
            f"{archive}: its files add up to {total / 2**30:.2f} GiB ({_ratio(archive, total)}"
            f"), but {staging.parent} has {free / 2**30:.2f} GiB free; free space or extract "
            "elsewhere; nothing was extracted"
        )


def _ratio(archive: Path, total: int) -> str:
    size = max(archive.stat().st_size, 1)
    return f"{total / size:.0f} times the archive's size"


def _new_staging(target: Path) -> Path:
    """A fresh temporary sibling of ``target`` with the usual folder permissions, after
    removing those of interrupted runs."""
    prefix = f".{target.name}.partial-"
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.iterdir():
        if not leftover.name.startswith(prefix):
            continue
        if leftover.is_symlink() or not leftover.is_dir():
            leftover.unlink()  # a link is removed, never followed
        else:
            shutil.rmtree(leftover)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    staging.chmod(default_mode(folder=True))  # mkdtemp makes 0700
    return staging


def _write_members(
    archive: Path, members: list[_Member], staging: Path, target: Path, progress: bool
) -> list[str]:
    """Write ``members`` under ``staging``; returns the files written, sorted.

    A truncated or corrupt member raises one of ``_CORRUPT`` (zipfile checks each CRC, tarfile
    each member's length) and leaves ``staging`` partly written.

    Raises:
        ExtractError: a member could not be written (a full disk, say).
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
                _write_or_explain(
                    partial(path.mkdir, parents=True, exist_ok=True), archive, target, member.name
                )
                continue
            _write_or_explain(
                partial(_copy_member, archive, member, path, target, bar),
                archive,
                target,
                member.name,
            )
            files.add(member.path.as_posix())
    return sorted(files)


def _copy_member(archive: Path, member: _Member, path: Path, target: Path, bar: tqdm) -> None:
    """Copy one member to ``path``; reading errors are the archive's (corrupt), writing
    errors propagate as ``OSError``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "wb") as sink:
        try:
            source = member.reader()
        except (*_CORRUPT, OSError) as exc:
            raise _corrupt(archive, target, f"member {member.name!r}: {one_line(exc)}") from None
        with source:
            while True:
                try:
                    block = source.read(_BLOCK)
                except (*_CORRUPT, OSError) as exc:
                    detail = f"member {member.name!r}: {one_line(exc)}"
                    raise _corrupt(archive, target, detail) from None
                if not block:
                    break
                written += len(block)
                if written > member.size:
                    detail = f"member {member.name!r} is longer than it says"
                    raise _corrupt(archive, target, detail)
                sink.write(block)
                bar.update(len(block))


def _write_or_explain(write: Callable[[], object], archive: Path, target: Path, name: str) -> None:
    """Run ``write``; a file-system failure becomes one :class:`ExtractError`."""
    try:
        write()
    except OSError as exc:
        if exc.errno in _FULL:
            raise ExtractError(
                f"{archive}: the disk filled up while extracting {name!r} into {target}; "
                "what was written is removed. Free space (or extract elsewhere) and run again"
            ) from None
        fix = OS_FIXES.get(exc.errno, f"{exc.strerror or exc}: fix the folder or extract elsewhere")
        raise ExtractError(
            f"{archive}: cannot write member {name!r} under {target}; what was written is "
            f"removed. {fix}"
        ) from None


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing an earlier stale or half-made extraction
    (checked by :func:`_check_replaceable` to hold nothing else)."""
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


def _conflict(archive: Path, member: str, reason: str) -> ExtractError:
    """The error refusing ``archive`` because a member cannot be written as stored."""
    return ExtractError(
        f"{archive}: refusing to extract anything: member {member!r} {reason}. The archive "
        "is damaged or not the one expected: download it again"
    )


def _corrupt(archive: Path, target: Path, detail: str) -> ExtractError:
    """The error for an archive that could not be read in full."""
    return ExtractError(
        f"{archive}: the archive is truncated or corrupt ({detail}); nothing was extracted "
        f"to {target}. Delete it and download it again (download() verifies its sha256)."
    )

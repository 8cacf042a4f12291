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

This module is the extraction itself: the lock, the order of the checks and the loop that
writes the members. The checks of the member list are in :mod:`gianet.fetch.extract_members`,
the target's marker, staging folder and space check in :mod:`gianet.fetch.extract_target`, and
the errors in :mod:`gianet.fetch.extract_errors`.
"""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tqdm import tqdm

from gianet.errors import OS_FIXES, one_line
from gianet.fetch.extract_errors import CORRUPT, ExtractError, corrupt
from gianet.fetch.extract_members import Member, check_names, open_members, select_members
from gianet.fetch.extract_target import (
    MARKER,
    SPACE_MARGIN,
    check_replaceable,
    check_space,
    completed_files,
    marker_record,
    move_into_place,
    new_staging,
    read_marker,
)
from gianet.jobs.locks import output_lock

__all__ = ["MARKER", "SPACE_MARGIN", "ExtractError", "safe_extract"]

_BLOCK = 1 << 20
_FULL = (errno.ENOSPC, errno.EDQUOT)


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
    record = read_marker(target) if target.is_dir() and not target.is_symlink() else None
    completed = completed_files(archive, target, members_prefix, record)
    if completed is not None:
        return completed
    check_replaceable(target, record)
    try:
        with open_members(archive) as members:
            selected = select_members(archive, members, members_prefix)
            check_names(archive, selected, target)
            staging = new_staging(target)
            try:
                check_space(archive, selected, staging)
                files = _write_members(archive, selected, staging, target, progress)
                marker = marker_record(archive, members_prefix, selected, files)
                _write_or_explain(
                    lambda: (staging / MARKER).write_text(json.dumps(marker, indent=1)),
                    archive,
                    target,
                    MARKER,
                )
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except CORRUPT as error:
        raise corrupt(archive, target, one_line(error)) from error
    move_into_place(staging, target)
    return [target / name for name in files]


def _write_members(
    archive: Path, members: list[Member], staging: Path, target: Path, progress: bool
) -> list[str]:
    """Write ``members`` under ``staging``; returns the files written, sorted.

    A truncated or corrupt member raises one of ``CORRUPT`` (zipfile checks each CRC, tarfile
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


def _copy_member(archive: Path, member: Member, path: Path, target: Path, bar: tqdm) -> None:
    """Copy one member to ``path``; reading errors are the archive's (corrupt), writing
    errors propagate as ``OSError``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "wb") as sink:
        try:
            source = member.reader()
        except (*CORRUPT, OSError) as exc:
            raise corrupt(archive, target, f"member {member.name!r}: {one_line(exc)}") from None
        with source:
            while True:
                try:
                    block = source.read(_BLOCK)
                except (*CORRUPT, OSError) as exc:
                    detail = f"member {member.name!r}: {one_line(exc)}"
                    raise corrupt(archive, target, detail) from None
                if not block:
                    break
                written += len(block)
                if written > member.size:
                    detail = f"member {member.name!r} is longer than it says"
                    raise corrupt(archive, target, detail)
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

"""The target folder of an extraction (:mod:`gianet.fetch.extract`): its completion marker,
what may be replaced, the free space, and the staging folder renamed into place.

The marker, ``.extracted.json``, records the archive's name and size, the prefix, the member
count and the files and folders written, so that a rerun with the same archive returns at
once, while a stale or half-made target is extracted again. Nothing that an extraction did not
create is ever deleted: a file or a folder of the user's at the target, or files a user added
inside an earlier extraction, are refused with a message naming them and the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from gianet.atomic import default_mode
from gianet.errors import one_line
from gianet.fetch.extract_errors import ExtractError
from gianet.fetch.extract_members import Member

#: Completion marker written inside a target once every member is in place.
MARKER = ".extracted.json"
#: Free space kept beyond the archive's content (file system overhead, other writers).
SPACE_MARGIN = 64 << 20


def read_marker(target: Path) -> dict | None:
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


def marker_record(
    archive: Path, prefix: str | None, members: list[Member], files: list[str]
) -> dict:
    """The marker of an extraction of ``members`` of ``archive`` that wrote ``files``."""
    return {
        "archive": archive.name,
        "size": archive.stat().st_size,
        "members_prefix": prefix,
        "members": len(members),
        "files": files,
        "folders": sorted({m.path.as_posix() for m in members if m.is_dir}),
    }


def completed_files(
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


def check_replaceable(target: Path, record: dict | None) -> None:
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


def check_space(archive: Path, members: list[Member], staging: Path) -> None:
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


def new_staging(target: Path) -> Path:
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


def move_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing an earlier stale or half-made extraction
    (checked by :func:`check_replaceable` to hold nothing else)."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        os.rename(target, old / target.name)
        os.rename(staging, target)
        shutil.rmtree(old)
    else:
        os.rename(staging, target)

"""An archive's member list, checked for safety before anything is written.

:func:`open_members` opens a zip or tar archive by its suffix and lists its members, refusing
an absolute path, a drive letter or a ``..`` component, a symbolic or hard link, a device
file, FIFO or socket, and an encrypted member. :func:`select_members` keeps those under a
prefix, and :func:`check_names` refuses two members with the same name, a member that is both
a file and a folder, and names longer than the file system allows.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from gianet.archive_names import ARCHIVE_SUFFIXES
from gianet.fetch.archives import archive_format
from gianet.fetch.extract_errors import ExtractError, conflict, unsafe

_DRIVE = re.compile(r"^[A-Za-z]:")
_NAME_MAX, _PATH_MAX = 255, 4096


@dataclass(frozen=True)
class Member:
    """One archive member: its stored name, its checked relative path, and how to read it."""

    name: str
    path: PurePosixPath
    is_dir: bool
    size: int
    reader: Callable[[], IO[bytes]]


def open_members(archive: Path) -> AbstractContextManager[list[Member]]:
    """Open ``archive`` by its suffix and list its members, all checked for safety."""
    kind = archive_format(archive.name)
    if kind == "zip":
        return _zip_members(archive)
    if kind in ("tar", "tar.gz"):
        return _tar_members(archive)
    expected = ", ".join(ARCHIVE_SUFFIXES)
    raise ExtractError(f"{archive}: unsupported archive type (expected {expected})")


@contextmanager
def _zip_members(archive: Path) -> Iterator[list[Member]]:
    """The checked members of a zip; links and special files are found by their Unix mode."""
    with zipfile.ZipFile(archive) as bundle:
        members = []
        for info in bundle.infolist():
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise unsafe(archive, info.filename, "is a symbolic link")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise unsafe(archive, info.filename, "is a device file, FIFO or socket")
            if info.flag_bits & 0x1:
                raise unsafe(archive, info.filename, "is encrypted")
            path = safe_path(archive, info.filename)
            reader = partial(bundle.open, info)
            members.append(Member(info.filename, path, info.is_dir(), info.file_size, reader))
        yield members


@contextmanager
def _tar_members(archive: Path) -> Iterator[list[Member]]:
    """The checked members of a (possibly gzipped) tar; only files and folders pass."""
    with tarfile.open(archive) as bundle:
        members = []
        for info in bundle.getmembers():
            if info.issym():
                raise unsafe(archive, info.name, f"is a symbolic link to {info.linkname!r}")
            if info.islnk():
                raise unsafe(archive, info.name, f"is a hard link to {info.linkname!r}")
            if not (info.isfile() or info.isdir()):
                raise unsafe(archive, info.name, "is a device file or FIFO")
            path = safe_path(archive, info.name)
            reader = partial(bundle.extractfile, info)
            members.append(Member(info.name, path, info.isdir(), info.size, reader))
        yield members


def safe_path(archive: Path, name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside the target, or an :class:`ExtractError`.

    Backslashes count as separators, so Windows-style ``..\\x`` is caught too.
    """
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")):
        raise unsafe(archive, name, "has an absolute path")
    if _DRIVE.match(name):
        raise unsafe(archive, name, "starts with a drive letter")
    if ".." in parts:
        raise unsafe(archive, name, "has a '..' component")
    if "\x00" in name:
        raise unsafe(archive, name, "has a NUL byte in its name")
    return PurePosixPath(*(part for part in parts if part not in ("", ".")))


def select_members(archive: Path, members: list[Member], prefix: str | None) -> list[Member]:
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


def check_names(archive: Path, members: list[Member], target: Path) -> None:
    """Refuse duplicate files, a member that is both a file and a folder, and names the file
    system cannot hold, before anything is written."""
    files: dict[PurePosixPath, str] = {}
    folders: dict[PurePosixPath, str] = {}
    for member in members:
        if member.is_dir:
            folders.setdefault(member.path, member.name)
            continue
        if member.path in files:
            raise conflict(
                archive, member.name, f"is stored twice (also as {files[member.path]!r})"
            )
        files[member.path] = member.name
        for parent in member.path.parents:
            folders.setdefault(parent, member.name)
    for path, name in files.items():
        if path in folders:
            raise conflict(archive, name, f"is a file, and {folders[path]!r} makes it a folder")
    limits = _name_limits(target.parent)
    base = len(os.fsencode(str(target.parent.absolute()))) + 64  # the staging folder's name
    for member in members:
        longest = max(len(os.fsencode(part)) for part in member.path.parts)
        if longest > limits[0] or base + len(os.fsencode(str(member.path))) > limits[1]:
            raise conflict(
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

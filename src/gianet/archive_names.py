"""The archive formats a SID download may come in, told apart by the end of a URL or file
name. A leaf: the settings' checks, the paths and the fetch stages all read it."""

from __future__ import annotations

#: Archive formats the SID download may have, recognised by the end of the URL or file name
#: (any case): suffix -> format (``"zip"``, ``"tar.gz"`` or ``"tar"``).
ARCHIVE_FORMATS = {".zip": "zip", ".tar.gz": "tar.gz", ".tgz": "tar.gz", ".tar": "tar"}
ARCHIVE_SUFFIXES = tuple(ARCHIVE_FORMATS)


def archive_suffix_of(name: str) -> str | None:
    """The :data:`ARCHIVE_SUFFIXES` entry that ``name`` (a URL or file name) ends with, in any
    case; ``None`` when it ends with none of them."""
    lowered = name.lower()
    return next((suffix for suffix in ARCHIVE_SUFFIXES if lowered.endswith(suffix)), None)


def archive_suffix(url: str) -> str:
    """``.zip``, ``.tar.gz``, ``.tgz`` or ``.tar``, from the end of an archive's URL.

    Raises:
        ValueError: the URL names none of them.
    """
    suffix = archive_suffix_of(url)
    if suffix is None:
        raise ValueError(f"{url}: the URL names no {', '.join(ARCHIVE_SUFFIXES)} archive")
    return suffix

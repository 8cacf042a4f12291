"""The real See-in-the-Dark dataset: fetching its archives, unpacking them, its split lists.

Three ways to have SID, set in params.yaml's ``sid`` section:

- nothing set: ``sid-download`` fetches ``sid.archives.<camera>.url`` into
  ``data/sid/archives/`` (resumable, retried, sha256 recorded in ``sid.checksums`` on the
  first download and verified afterwards), and ``sid-unpack`` extracts it into ``data/sid``;
- ``sid.archives.<camera>.path``: an archive you already have, extracted without download;
- ``sid.root``: a folder already holding ``Sony/`` and ``Fuji/``; nothing is fetched.

SID's split lists ship with gianet (``gianet/data/sid_lists``, as published with SID's
code) and are written next to the camera folders, where SID keeps them.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from gianet.data.download import download
from gianet.data.extract import safe_extract
from gianet.errors import GianetError
from gianet.paths import SPLITS


class SidDataMissing(GianetError, RuntimeError):
    """The SID files are not where the configuration says; the message says what to do."""


ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def archive_suffix(url: str) -> str:
    """``.zip``, ``.tar.gz``, ``.tgz`` or ``.tar``, from the end of an archive's URL."""
    for suffix in ARCHIVE_SUFFIXES:
        if url.lower().endswith(suffix):
            return suffix
    raise SidDataMissing(f"{url}: the URL names no .zip or .tar(.gz) archive")


def archive_path(params: dict, camera: str) -> Path:
    """The camera's archive: the user's own (``sid.archives.<camera>.path``) or the download's,
    ``data/sid/archives/<camera>.zip`` (suffix from the URL)."""
    source = params["sid"]["archives"][camera]
    if source["path"]:
        return Path(source["path"])
    folder = Path(params["paths"]["data"]) / "sid" / "archives"
    return folder / f"{camera}{archive_suffix(source['url'])}"


def download_archive(params: dict, camera: str, *, progress: bool = True) -> Path:
    """Fetch the camera's archive (resumes a partial file; verifies the recorded sha256)."""
    dest = archive_path(params, camera)
    dest.parent.mkdir(parents=True, exist_ok=True)
    result = download(
        params["sid"]["archives"][camera]["url"],
        dest,
        checksum_file=Path(params["sid"]["checksums"]),
        progress=progress,
    )
    return result.path


def unpack_archive(archive: Path, root: Path, camera: str, *, progress: bool = True) -> None:
    """Extract ``camera/`` of the archive into ``root/camera`` (safely, all or nothing)."""
    if not archive.is_file():
        raise SidDataMissing(
            f"{archive}: no such archive; fix sid.archives.{camera}.path in params.yaml or "
            "set it to null to download it"
        )
    safe_extract(archive, root / camera, members_prefix=camera, progress=progress)


def install_split_lists(root: str | Path, camera: str) -> list[Path]:
    """Write SID's published split lists for ``camera`` into ``root`` next to ``root/camera``.

    Raises:
        SidDataMissing: ``root/camera`` holds no SID data.
    """
    root = Path(root)
    if not (root / camera / "short").is_dir():
        raise SidDataMissing(
            f"{root / camera}: no SID {camera} data here (no {camera}/short folder). Set "
            "sid.root in params.yaml to the folder that holds Sony/ and Fuji/, or set it to "
            "null to download and unpack the archives."
        )
    written = []
    for split in SPLITS:
        name = f"{camera}_{split}_list.txt"
        target = root / name
        source = resources.files("gianet.data").joinpath("sid_lists", name)
        with resources.as_file(source) as path:
            shutil.copyfile(path, target)
        written.append(target)
    return written

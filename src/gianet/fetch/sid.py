"""The real See-in-the-Dark dataset: fetching its archives, unpacking them, its split lists.

Three ways to have SID, set in params.yaml's ``sid`` section (paths in :mod:`gianet.paths`):

- nothing set: ``sid-download`` fetches ``sid.archives.<camera>.url`` into
  ``data/sid/archives/`` (resumable, retried, sha256 recorded in ``sid.checksums`` on the
  first download and verified afterwards), and ``sid-unpack`` extracts it into ``data/sid``;
- ``sid.archives.<camera>.path``: an archive you already have, extracted without download;
- ``sid.root``: a folder already holding ``Sony/`` and ``Fuji/``; nothing is fetched.

SID's split lists ship with gianet (``gianet/data/sid_lists``, as published with SID's
code) and are written next to the camera folders, where SID keeps them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gianet import atomic
from gianet.errors import GianetError
from gianet.fetch.extract import safe_extract
from gianet.paths import SPLITS, list_name


class SidDataMissing(GianetError, RuntimeError):
    """The SID files are not where the configuration says; the message says what to do."""


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
        name = list_name(camera, split)
        target = root / name
        source = resources.files("gianet.data").joinpath("sid_lists", name)
        written.append(atomic.write_bytes(target, source.read_bytes()))
    return written


def packaged_files(camera: str) -> list[str]:
    """Every file SID's published split lists for ``camera`` name (short and long exposures),
    relative to the dataset root, sorted."""
    from gianet.data.lists import parse_list

    names: set[str] = set()
    for split in SPLITS:
        source = resources.files("gianet.data").joinpath("sid_lists", list_name(camera, split))
        with resources.as_file(source) as listed:
            for pair in parse_list(listed):
                names.update((pair.short, pair.long))
    return sorted(names)

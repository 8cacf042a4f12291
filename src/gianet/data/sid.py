"""The real See-in-the-Dark dataset: its split lists and where its files must be.

SID's split lists ship with gianet (``gianet/data/sid_lists``, as published with SID's
code). Downloading and unpacking the archives is not implemented yet: until it is, unpack
Sony.zip / Fuji.zip yourself and point ``sid.root`` in params.yaml at the folder holding
``Sony/`` and ``Fuji/``.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from gianet.errors import GianetError
from gianet.paths import SPLITS

ARCHIVES = {
    "Sony": "https://storage.googleapis.com/isl-datasets/SID/Sony2025.zip",
    "Fuji": "https://storage.googleapis.com/isl-datasets/SID/Fuji2025.zip",
}


class SidDataMissing(GianetError, RuntimeError):
    """The SID files are not where the configuration says; the message says what to do."""


def install_split_lists(root: str | Path, camera: str) -> list[Path]:
    """Copy SID's published split lists for ``camera`` into ``root`` next to ``root/camera``.

    Raises:
        SidDataMissing: ``root/camera`` does not exist (the download is not implemented yet).
    """
    root = Path(root)
    if not (root / camera / "short").is_dir():
        raise SidDataMissing(
            f"{root / camera}: no SID {camera} data here, and downloading SID is not yet "
            f"implemented. Download {ARCHIVES[camera]}, unpack it, and set sid.root in "
            "params.yaml (or configs/paper.yaml) to the folder that holds "
            f"{camera}/short and {camera}/long."
        )
    written = []
    for split in SPLITS:
        name = f"{camera}_{split}_list.txt"
        target = root / name
        if not target.exists():
            source = resources.files("gianet.data").joinpath("sid_lists", name)
            with resources.as_file(source) as path:
                shutil.copyfile(path, target)
        written.append(target)
    return written

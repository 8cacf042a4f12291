"""Shared fixtures: the real raw files of ../shared/realraw and small packed caches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

REALRAW = Path(os.environ.get("GIANET_REALRAW", Path(__file__).parents[2] / "shared" / "realraw"))


def realraw(name: str) -> Path:
    """Path of a real camera raw from shared/realraw; skips when the folder is absent."""
    path = REALRAW / name
    if not path.exists():
        pytest.skip(f"{path} not present (set GIANET_REALRAW to the realraw folder)")
    return path


def write_packed_cache(
    cache_dir: Path, scenes: dict[str, list[tuple[np.ndarray, np.ndarray, str, str]]]
) -> None:
    """Write a cache as `gianet pack` would, from arrays made by a test.

    Args:
        scenes: per split, tuples ``(packed (4,h,w) uint16, gt (3,2h,2w) uint16, short, long)``
            with SID-style file names for ``short`` and ``long``.
    """
    from gianet.data.lists import exposure_ratio, exposure_seconds

    entries, splits = {}, {}
    for split, items in scenes.items():
        splits[split] = []
        for packed, gt, short, long in items:
            for kind, name, array in (("input", short, packed), ("gt", long, gt)):
                folder = "inputs" if kind == "input" else "gt"
                rel = f"{folder}/{Path(name).name.rsplit('.', 1)[0]}.npy"
                (cache_dir / folder).mkdir(parents=True, exist_ok=True)
                np.save(cache_dir / rel, array)
                meta = {"source": name, "kind": kind, "array": rel, "shape": list(array.shape)}
                if kind == "input":
                    meta |= {
                        "cfa": "bayer",
                        "pattern": "RGGB",
                        "scale": [15871.0] * 4,
                        "white": 16383,
                        "offset": [0, 0],
                    }
                entries[name] = meta
            scene, shot, _ = exposure_seconds(short)
            splits[split].append(
                {
                    "short": short,
                    "long": long,
                    "scene": scene,
                    "shot": shot,
                    "ratio": exposure_ratio(short, long),
                    "iso": 100,
                }
            )
    manifest = {"root": "test", "entries": entries, "splits": splits}
    (cache_dir / "manifest.json").write_text(json.dumps(manifest))

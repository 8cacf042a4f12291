"""A packed sid-synth cache for benchmarks: Sony frames, one short exposure per scene."""

from __future__ import annotations

from pathlib import Path

from gianet.data.cache import build_cache
from gianet.data.lists import parse_list
from gianet.synth import generate_dataset


def packed_synth_cache(folder: Path, scenes: int, height: int, width: int, workers: int) -> Path:
    """Generate ``scenes`` training scenes (plus one val, one test) under ``folder/data``, pack
    the train and val splits into ``folder/cache`` and return that cache folder."""
    root = folder / "data"
    generate_dataset(
        root,
        "Sony",
        scenes={"train": scenes, "val": 1, "test": 1},
        height=height,
        width=width,
        shorts_per_scene=1,
        seed=0,
        progress=False,
    )
    splits = {s: parse_list(root / f"Sony_{s}_list.txt", root) for s in ("train", "val")}
    build_cache(root, splits, folder / "cache", workers=workers, progress=False)
    return folder / "cache"

"""A packed sid-synth cache for benchmarks: Sony frames, one short exposure per scene.

Scenes are generated in parallel processes (a Sony-sized scene takes one process 5-9 s), each
exactly as ``gianet.synth.generate_dataset`` writes it (same files for the same seed and
scene number); the dataset's record is written as the ``synth`` rule writes it
(``record_sources``), then every split is packed with ``gianet pack``'s ``build_cache`` at
params.yaml's levels (``sid.levels``), which seeds the cache's ``verified.json``.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from gianet.data.cache import build_cache
from gianet.data.lists import parse_list
from gianet.data.sources import record_sources
from gianet.paths import list_name, record_name
from gianet.settings import load_params
from gianet.synth.cameras import get_camera

# The per-scene writer of generate_dataset, run here one scene per process.
from gianet.synth.generate import SPLIT_DIGITS, _write_scene

REPO = Path(__file__).resolve().parents[1]
CAMERA = "Sony"
RATIOS = (100, 250, 300)


def _scene(job: tuple[str, int], root: Path, height: int, width: int) -> dict:
    split, number = job
    return _write_scene(
        root,
        get_camera(CAMERA),
        SPLIT_DIGITS[split] * 10000 + number,
        [RATIOS[(number - 1) % len(RATIOS)]],
        height,
        width,
        seed=0,
    )


def dataset_record(folder: Path) -> Path:
    """The dataset record of the set :func:`packed_synth_cache` made under ``folder``."""
    return folder / "data" / record_name(CAMERA)


def packed_synth_cache(
    folder: Path,
    scenes: int,
    height: int,
    width: int,
    workers: int,
    val: int = 1,
    test: int = 1,
) -> Path:
    """Generate ``scenes`` training scenes plus ``val`` and ``test`` ones under
    ``folder/data`` with ``workers`` processes, record them (``folder/data/Sony_sources.tsv``,
    :func:`dataset_record`), pack every split into ``folder/cache`` and return that cache
    folder."""
    root = folder / "data"
    counts = {"train": scenes, "val": val, "test": test}
    jobs = [(split, number) for split, count in counts.items() for number in range(1, count + 1)]
    with ProcessPoolExecutor(max(1, min(workers, len(jobs)))) as pool:
        records = list(pool.map(partial(_scene, root=root, height=height, width=width), jobs))
    splits = {}
    for split in counts:
        rows = [
            row
            for (s, _), r in zip(jobs, records, strict=True)
            if s == split
            for row in r["list_rows"]
        ]
        (root / list_name(CAMERA, split)).write_text("".join(f"{row}\n" for row in rows))
        splits[split] = parse_list(root / list_name(CAMERA, split), root)
    record = record_sources(root, CAMERA, dataset_record(folder), progress=False)
    levels = load_params(REPO / "params.yaml").sid.levels
    cache = folder / "cache"
    build_cache(root, splits, cache, record=record, levels=levels, workers=workers, progress=False)
    return cache

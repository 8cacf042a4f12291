"""The packed-tensor cache: every raw decoded once, stored as uint16 ``.npy`` on disk.

Layout under ``CACHE/{dataset}/{camera}/``::

    inputs/00001_00_0.1s.npy    (C, h, w) uint16 packed raw above black (C = 4 or 9)
    inputs/00001_00_0.1s.json   source path, size, mtime, sha256, shape, scale, CFA
    gt/00001_00_10s.npy         (3, H, W) uint16 sRGB ground truth
    gt/00001_00_10s.json
    manifest.json               every entry plus the pairs of each split

Training and evaluation open the arrays with ``np.load(mmap_mode="r")``, so memory does not
grow with the dataset. Each array and its sidecar are written atomically; an entry whose
source changed size or modification time, or whose array is missing or has the wrong shape,
is rebuilt. A failure on one file is reported with the others at the end, after every good
file has been cached, so nothing already computed is lost.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gianet.checksums import sha256_of
from gianet.data.lists import Pair
from gianet.data.raw import RawError, pack, read_ground_truth, read_mosaic
from gianet.data.xtrans import xtrans_phase
from gianet.errors import GianetError
from gianet.paths import MANIFEST


class CacheError(GianetError, RuntimeError):
    """Some files could not be cached; the message lists each file and its fix."""


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "wb") as handle:
        np.save(handle, array)
    os.replace(temporary, path)


def _atomic_write_json(path: Path, value: dict) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(value, indent=1))
    os.replace(temporary, path)


def _entry_paths(cache_dir: Path, kind: str, source: str) -> tuple[Path, Path]:
    stem = Path(source).name.rsplit(".", 1)[0]
    folder = cache_dir / ("inputs" if kind == "input" else "gt")
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def _is_fresh(source: Path, array_path: Path, meta_path: Path) -> dict | None:
    if not (array_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        stat = source.stat()
        shape = np.load(array_path, mmap_mode="r").shape
    except (OSError, ValueError):
        return None
    if meta.get("size") != stat.st_size or meta.get("mtime_ns") != stat.st_mtime_ns:
        return None
    return meta if list(shape) == meta.get("shape") else None


def _cache_one(task: tuple[str, str, str, str]) -> tuple[str, dict | None, str | None]:
    """Decode and store one file. Returns ``(source, meta, error)``."""
    root, cache_dir, kind, source = task
    source_path = Path(root) / source
    array_path, meta_path = _entry_paths(Path(cache_dir), kind, source)
    fresh = _is_fresh(source_path, array_path, meta_path)
    if fresh is not None:
        return source, fresh, None
    try:
        stat = source_path.stat()
        meta: dict = {
            "source": source,
            "kind": kind,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        if kind == "input":
            mosaic = read_mosaic(source_path)
            array, scale = pack(mosaic)
            offset = xtrans_phase(mosaic.pattern) if mosaic.cfa == "xtrans" else (0, 0)
            meta.update(
                cfa=mosaic.cfa,
                pattern=mosaic.pattern_name,
                scale=scale.tolist(),
                black=(mosaic.white - scale).tolist(),
                white=mosaic.white,
                offset=list(offset),
            )
        else:
            array = read_ground_truth(source_path)
        meta["sha256"] = sha256_of(source_path)
    except (RawError, OSError) as exc:
        return source, None, str(exc)
    array_path.parent.mkdir(parents=True, exist_ok=True)
    meta["array"] = str(array_path.relative_to(cache_dir))
    meta["shape"] = list(array.shape)
    _atomic_save_npy(array_path, array)
    _atomic_write_json(meta_path, meta)
    return source, meta, None


def _check_pair_shapes(pair: Pair, entries: dict) -> str | None:
    short, long = entries.get(pair.short), entries.get(pair.long)
    if short is None or long is None:
        return None  # already reported
    channels, height, width = short["shape"]
    upscale = 2 if short["cfa"] == "bayer" else 3
    dy, dx = short["offset"]
    need = (upscale * height + dy, upscale * width + dx)
    have = tuple(long["shape"][1:])
    if have[0] < need[0] or have[1] < need[1]:
        return (
            f"{pair.long}: ground truth is {have[0]}x{have[1]} but the packed input "
            f"{pair.short} needs at least {need[0]}x{need[1]}; the pair does not belong together"
        )
    return None


def build_cache(
    root: str | Path,
    splits: dict[str, list[Pair]],
    cache_dir: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Decode every file the splits name into the cache and write ``manifest.json``.

    Args:
        root: dataset root the pairs' paths are relative to.
        splits: pairs per split name (``train``, ``val``, ``test``).
        cache_dir: ``CACHE/{dataset}/{camera}``.
        workers: decoding processes (one decode per file, in parallel over cores).
        progress: show a progress bar.

    Returns:
        The manifest's path.

    Raises:
        CacheError: listing every file that failed; the others stay cached.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = {("input", p.short) for pairs in splits.values() for p in pairs}
    wanted |= {("gt", p.long) for pairs in splits.values() for p in pairs}
    tasks = [(str(root), str(cache_dir), kind, source) for kind, source in sorted(wanted)]
    entries: dict[str, dict] = {}
    errors: list[str] = []
    bar = tqdm(total=len(tasks), desc=f"packing {cache_dir}", unit="file", disable=not progress)
    if workers > 1:
        # LibRaw uses OpenMP, which deadlocks in forked children: start workers fresh.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = pool.map(_cache_one, tasks, chunksize=1)
            for source, meta, error in results:
                _collect(source, meta, error, entries, errors)
                bar.update()
    else:
        for task in tasks:
            _collect(*_cache_one(task), entries, errors)
            bar.update()
    bar.close()
    errors += [
        e for pairs in splits.values() for p in pairs if (e := _check_pair_shapes(p, entries))
    ]
    if errors:
        raise CacheError(
            f"{len(errors)} problem(s) while caching {root} ({len(entries)} files cached and "
            "kept):\n" + "\n".join(sorted(set(errors)))
        )
    manifest = {
        "root": str(root),
        "entries": entries,
        "splits": {name: [asdict(p) for p in pairs] for name, pairs in splits.items()},
    }
    path = cache_dir / MANIFEST
    _atomic_write_json(path, manifest)
    return path


def _collect(source: str, meta: dict | None, error: str | None, entries: dict, errors: list):
    if error is not None:
        errors.append(error)
    else:
        entries[source] = meta


def load_manifest(cache_dir: str | Path) -> dict:
    """Read ``manifest.json``; a missing or corrupt manifest names the command that rebuilds it."""
    path = Path(cache_dir) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CacheError(
            f"{path}: cannot read the cache manifest ({exc}); run `gianet pack`"
        ) from None


def open_array(cache_dir: str | Path, meta: dict) -> np.ndarray:
    """Memory-map a cached array (read-only, nothing loaded until indexed)."""
    return np.load(Path(cache_dir) / meta["array"], mmap_mode="r")

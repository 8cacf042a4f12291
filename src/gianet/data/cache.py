"""The packed-tensor cache: every raw decoded once, stored as uint16 ``.npy`` on disk.

Layout under ``CACHE/{dataset}/{camera}/``::

    inputs/00001_00_0.1s.npy    (C, h, w) uint16 packed raw above black (C = 4 or 9)
    inputs/00001_00_0.1s.json   source path, size, mtime, sha256, shape, scale, CFA, levels
    gt/00001_00_10s.npy         (3, H, W) uint16 sRGB ground truth
    gt/00001_00_10s.json
    manifest.json               every entry, the pairs of each split and the protocol
                                that selected them (levels, test exposures, exclusions)

Training and evaluation open the arrays with ``np.load(mmap_mode="r")``, so memory does not
grow with the dataset. Each array and its sidecar are written atomically (:mod:`gianet.atomic`);
an entry whose source changed size or modification time, whose array fails its check, or
that was packed with other black and white levels (``sid.levels``), is rebuilt. A failure on
one file is reported with the others at the end, after every good file has been cached, so
nothing already computed is lost.

Every entry records its array's content: its size in bytes, the sha256 of every byte
(``array_sha256``) and the sha256 of sampled blocks (``array_sample``: 16 blocks of 4 KiB
spread over the file, with the first and the last). A *fast* check (the default of
``gianet pack`` and what :func:`open_array` does once per array and process in training and
evaluation) compares the size, the ``.npy`` header (dtype, shape, a data length that fills the
file) and the sampled blocks: it catches a truncated array, one of another shape, and one
overwritten with same-size garbage. A *full* check (``gianet pack --verify full``) hashes
every byte. ``pack`` rebuilds any entry that fails; training and evaluation stop with a
message naming the array and the fix; and the workflow runs the fast check of each existing
cache when it builds its DAG, so Snakemake reruns ``pack`` for a damaged one (see
``workflow/rules/common.smk``).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, fields
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from gianet import atomic
from gianet.data.lists import Pair
from gianet.data.raw import RawError, pack, read_ground_truth, read_mosaic, with_levels
from gianet.data.xtrans import xtrans_phase
from gianet.errors import GianetError, explain, one_line
from gianet.fetch.checksums import sha256_of
from gianet.jobs.children import die_with_parent
from gianet.jobs.cpus import bounded
from gianet.paths import MANIFEST

#: Sampled blocks of the fast check: how many, and their size in bytes.
SAMPLE_BLOCKS, SAMPLE_BYTES = 16, 4096
#: Where ``pack`` moves a manifest whose arrays failed their check (see :func:`retire_if_damaged`).
DAMAGED_SUFFIX = ".damaged"
_REBUILD = "run `gianet pack` (snakemake reruns it) to rebuild it"


class CacheError(GianetError, RuntimeError):
    """Some files could not be cached, or a cached one is damaged; the message names each
    file and the fix."""


def _entry_paths(cache_dir: Path, kind: str, source: str) -> tuple[Path, Path]:
    stem = Path(source).name.rsplit(".", 1)[0]
    folder = cache_dir / ("inputs" if kind == "input" else "gt")
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def sampled_digest(path: Path, size: int) -> str:
    """sha256 of ``size`` and :data:`SAMPLE_BLOCKS` blocks of :data:`SAMPLE_BYTES` spread
    evenly over the file, the first at its start and the last at its end."""
    digest = hashlib.sha256(str(size).encode())
    last = max(size - SAMPLE_BYTES, 0)
    offsets = sorted({last * i // (SAMPLE_BLOCKS - 1) for i in range(SAMPLE_BLOCKS)})
    descriptor = os.open(path, os.O_RDONLY)
    try:
        for offset in offsets:
            digest.update(os.pread(descriptor, SAMPLE_BYTES, offset))
    finally:
        os.close(descriptor)
    return digest.hexdigest()


def content_record(path: Path) -> dict:
    """What an entry records of its array's content (see the module docstring)."""
    size = path.stat().st_size
    return {
        "array_bytes": size,
        "array_sha256": sha256_of(path),
        "array_sample": sampled_digest(path, size),
    }


def _npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, bytes the file must have) from a ``.npy`` header.

    Raises:
        ValueError: not a ``.npy`` file, or a header numpy cannot read.
    """
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version not in readers:
            raise ValueError(f".npy format version {version} is not one numpy.save writes here")
        shape, _, dtype = readers[version](handle)
        data_offset = handle.tell()
    return shape, dtype, data_offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


def array_problem(cache_dir: str | Path, meta: dict, *, full: bool = False) -> str | None:
    """Why the cached array of an entry cannot be used, or ``None`` when it passes the fast
    check (or, with ``full``, the sha256 of every byte); see the module docstring.

    Checks what the entry records: entries written before content records existed are
    checked for their header and shape only.
    """
    path = array_file(cache_dir, meta)
    try:
        size = path.stat().st_size
        shape, dtype, needed = _npy_layout(path)
    except FileNotFoundError:
        return "is missing"
    except IsADirectoryError:
        return "is a folder, not an array"
    except (OSError, ValueError, SyntaxError, TypeError, EOFError) as exc:
        return f"is not a readable .npy array ({one_line(exc, 120)})"
    if "array_bytes" in meta and size != meta["array_bytes"]:
        return f"holds {size} bytes, the manifest records {meta['array_bytes']}"
    if dtype != np.uint16 or list(shape) != meta["shape"]:
        return f"is {dtype} {list(shape)}, the manifest records uint16 {meta['shape']}"
    if size != needed:
        return f"holds {size} bytes, its header needs {needed} (truncated or padded)"
    if full and "array_sha256" in meta:
        if sha256_of(path) != meta["array_sha256"]:
            return "differs from the content the manifest records (its sha256)"
    elif "array_sample" in meta and sampled_digest(path, size) != meta["array_sample"]:
        return "differs from the content the manifest records (its sampled blocks)"
    return None


def array_file(cache_dir: str | Path, meta: dict) -> Path:
    """The file of an entry's array, checked to lie inside ``cache_dir``.

    Raises:
        CacheError: the entry names no array inside the cache.
    """
    name = meta.get("array") if isinstance(meta, dict) else None
    relative = PurePosixPath(name) if isinstance(name, str) else None
    if relative is None or relative.is_absolute() or ".." in relative.parts or not name:
        raise CacheError(
            f"{Path(cache_dir) / MANIFEST}: an entry names {name!r} as its array, not a file "
            f"inside the cache; {_REBUILD}"
        )
    return Path(cache_dir) / relative


def _is_fresh(
    cache_dir: Path, source: Path, array_path: Path, meta_path: Path, full: bool, levels: str
) -> dict | None:
    """The entry's sidecar when its source is unchanged, its array passes its check and, for
    a packed input, it was packed with ``levels`` (entries that record none used the file's).

    An entry written before content records existed gets them now, from its array as it
    is, once its header and shape check out (nothing is decoded again).
    """
    if not (array_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        stat = source.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("shape"), list):
        return None
    if meta.get("size") != stat.st_size or meta.get("mtime_ns") != stat.st_mtime_ns:
        return None
    if meta.get("kind") == "input" and meta.get("levels", "file") != levels:
        return None
    try:
        if array_path != array_file(cache_dir, meta):
            return None
        problem = array_problem(cache_dir, meta, full=full)
    except CacheError:
        return None
    if problem is not None:
        return None
    if "array_sample" not in meta:
        meta |= content_record(array_path)
        atomic.write_json(meta_path, meta)
    return meta


def _cache_one(
    task: tuple[str, str, str, str, bool, str],
) -> tuple[str, dict | None, str | None]:
    """Decode and store one file. Returns ``(source, meta, error)``."""
    root, cache_dir, kind, source, full, levels = task
    source_path = Path(root) / source
    array_path, meta_path = _entry_paths(Path(cache_dir), kind, source)
    fresh = _is_fresh(Path(cache_dir), source_path, array_path, meta_path, full, levels)
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
            mosaic = with_levels(read_mosaic(source_path), levels)
            array, scale = pack(mosaic)
            offset = xtrans_phase(mosaic.pattern) if mosaic.cfa == "xtrans" else (0, 0)
            meta.update(
                cfa=mosaic.cfa,
                pattern=mosaic.pattern_name,
                scale=scale.tolist(),
                black=(mosaic.white - scale).tolist(),
                white=mosaic.white,
                levels=levels,
                offset=list(offset),
            )
        else:
            array = read_ground_truth(source_path)
        meta["sha256"] = sha256_of(source_path)
    except (RawError, OSError) as exc:
        return source, None, str(exc)
    meta["array"] = array_path.relative_to(cache_dir).as_posix()
    meta["shape"] = list(array.shape)
    try:
        atomic.save_npy(array_path, array)
        meta |= content_record(array_path)
        atomic.write_json(meta_path, meta)
    except OSError as exc:
        return source, None, f"{array_path}: cannot be written: {explain(exc) or one_line(exc)}"
    return source, meta, None


def build_cache(
    root: str | Path,
    splits: dict[str, list[Pair]],
    cache_dir: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
    full_check: bool = False,
    levels: str = "file",
    protocol: dict | None = None,
) -> Path:
    """Decode every file the splits name into the cache and write ``manifest.json``.

    Entries already cached are reused when their source is unchanged, their array passes its
    check and they were packed with ``levels``; any other is decoded again.

    Args:
        root: dataset root the pairs' paths are relative to.
        splits: pairs per split name (``train``, ``val``, ``test``).
        cache_dir: ``CACHE/{dataset}/{camera}``.
        workers: decoding processes (one decode per file, in parallel over cores), at most
            the CPUs this process may use (:func:`gianet.jobs.cpus.bounded`); they die with
            this process (:func:`gianet.jobs.children.die_with_parent`).
        progress: show a progress bar.
        full_check: check reused arrays by the sha256 of every byte, not the fast check.
        levels: black and white levels of the packed inputs: ``"file"`` (each raw's own) or
            ``"sid"`` (SID's constants, :data:`gianet.data.raw.SID_LEVELS`).
        protocol: how the splits were selected (test exposures, excluded scenes), recorded
            in the manifest's ``protocol`` beside ``levels`` for evaluation to report.

    Returns:
        The manifest's path.

    Raises:
        CacheError: listing every file that failed; the others stay cached.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = {("input", p.short) for pairs in splits.values() for p in pairs}
    wanted |= {("gt", p.long) for pairs in splits.values() for p in pairs}
    tasks = [
        (str(root), str(cache_dir), kind, source, full_check, levels)
        for kind, source in sorted(wanted)
    ]
    entries: dict[str, dict] = {}
    errors: list[str] = []
    bar = tqdm(total=len(tasks), desc=f"packing {cache_dir}", unit="file", disable=not progress)
    workers = bounded(workers, "pack --workers")
    if workers > 1:
        # LibRaw uses OpenMP, which deadlocks in forked children: start workers fresh, and
        # tied to this process, so that killing it leaves none running.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            results = pool.map(_cache_one, tasks, chunksize=1)
            for source, meta, error in results:
                _collect(source, meta, error, entries, errors)
                bar.update()
    else:
        for task in tasks:
            _collect(*_cache_one(task), entries, errors)
            bar.update()
    bar.close()
    for pair in (pair for pairs in splits.values() for pair in pairs):
        short, long = entries.get(pair.short), entries.get(pair.long)
        if short is None or long is None:
            continue  # already reported
        if problem := _pair_problem(short, long):
            errors.append(
                f"{pair.short}, {pair.long}: {problem}; the pair does not belong together"
            )
    if errors:
        raise CacheError(
            f"{len(errors)} problem(s) while caching {root} ({len(entries)} files cached and "
            "kept):\n" + "\n".join(sorted(set(errors)))
        )
    manifest = {
        "root": str(root),
        "protocol": {"levels": levels, **(protocol or {})},
        "entries": entries,
        "splits": {name: [asdict(p) for p in pairs] for name, pairs in splits.items()},
    }
    path = cache_dir / MANIFEST
    atomic.write_json(path, manifest)
    path.with_name(MANIFEST + DAMAGED_SUFFIX).unlink(missing_ok=True)
    return path


def _collect(source: str, meta: dict | None, error: str | None, entries: dict, errors: list):
    if error is not None:
        errors.append(error)
    else:
        entries[source] = meta


_PAIR_FIELDS = {field.name for field in fields(Pair)}


def load_manifest(cache_dir: str | Path, splits: tuple[str, ...] = ()) -> dict:
    """Read and check ``manifest.json``: its entries, its splits and what they refer to.

    Args:
        cache_dir: the cache folder.
        splits: splits the caller needs (``gianet pack`` writes train, val and test).

    Raises:
        CacheError: the manifest is missing, unreadable, not one ``gianet pack`` writes, or
            lacks a split asked for; the message names it and the command that rebuilds it.
    """
    path = Path(cache_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CacheError(f"{path}: no cache manifest; {_REBUILD}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        detail = one_line(exc)
        raise CacheError(f"{path}: cannot read the cache manifest ({detail}); {_REBUILD}") from None
    problem = _manifest_problem(manifest)
    missing = [split for split in splits if problem is None and split not in manifest["splits"]]
    if missing:
        problem = f"it has no {', '.join(missing)} split"
    if problem:
        raise CacheError(f"{path}: not a manifest written by gianet pack: {problem}; {_REBUILD}")
    return manifest


def _manifest_problem(manifest: object) -> str | None:
    """What makes ``manifest`` unusable, or ``None``."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    entries, splits = manifest.get("entries"), manifest.get("splits")
    if not isinstance(entries, dict) or not isinstance(splits, dict):
        return "no 'entries' and 'splits' objects"
    if not isinstance(manifest.get("protocol", {}), dict):
        return "its 'protocol' is not an object"
    for source, meta in entries.items():
        problem = _entry_problem(meta)
        if problem:
            return f"entry {source!r} {problem}"
    for split, pairs in splits.items():
        if not isinstance(pairs, list) or not pairs:
            return f"split {split!r} is not a non-empty list of pairs"
        for pair in pairs:
            if not isinstance(pair, dict) or set(pair) != _PAIR_FIELDS:
                return f"split {split!r} holds {pair!r:.80}, not a pair"
            if not all(isinstance(pair[k], str) for k in ("short", "long")) or not all(
                isinstance(pair[k], (int, float)) and not isinstance(pair[k], bool)
                for k in ("scene", "shot", "ratio", "iso")
            ):
                return f"split {split!r} holds a pair of the wrong types: {pair!r:.80}"
            for key, kind in (("short", "input"), ("long", "gt")):
                meta = entries.get(pair[key])
                if not isinstance(meta, dict) or meta.get("kind", kind) != kind:
                    return f"split {split!r} refers to {pair[key]!r}, which has no {kind} entry"
            if not pair["ratio"] > 0:
                return f"split {split!r} holds a pair with ratio {pair['ratio']!r}"
            problem = _pair_problem(entries[pair["short"]], entries[pair["long"]])
            if problem:
                return f"the pair {pair['short']!r}, {pair['long']!r}: {problem}"
    return None


#: Packed channels (C) of each CFA, and its upscale: the raw (ground-truth) pixels one packed
#: pixel spans per side.
_CHANNELS = {"bayer": 4, "xtrans": 9}
UPSCALE = {"bayer": 2, "xtrans": 3}


def _pair_problem(short: dict, long: dict) -> str | None:
    """Why a packed input entry (C, h, w) and its ground-truth entry (3, H, W) do not fit
    together (C not the CFA's channel count, or H < u*h + dy or W < u*w + dx for the CFA's
    upscale u and the input's offset (dy, dx)), or ``None`` when they do. ``pack`` checks
    every pair so before writing the manifest, and :func:`load_manifest` again on reading it."""
    if "cfa" not in short:
        return "the input entry has no CFA"
    channels, height, width = short["shape"]
    if channels != _CHANNELS[short["cfa"]] or long["shape"][0] != 3:
        return f"shapes {short['shape']} and {long['shape']} are not a {short['cfa']} input and RGB"
    upscale = UPSCALE[short["cfa"]]
    dy, dx = short["offset"]
    if long["shape"][1] < upscale * height + dy or long["shape"][2] < upscale * width + dx:
        return f"the ground truth {long['shape']} is smaller than the input {short['shape']} needs"
    return None


def _entry_problem(meta: object) -> str | None:
    if not isinstance(meta, dict):
        return "is not an object"
    shape = meta.get("shape")
    if (
        not isinstance(meta.get("array"), str)
        or not isinstance(shape, list)
        or len(shape) != 3
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        return "names no array of three positive dimensions"
    if meta.get("kind", "input") == "input" and ("scale" in meta or "cfa" in meta):
        scale, offset = meta.get("scale"), meta.get("offset")
        if meta.get("cfa") not in ("bayer", "xtrans"):
            return "has no CFA (bayer or xtrans)"
        if (
            not isinstance(scale, list)
            or len(scale) != shape[0]
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in scale
            )
        ):
            return "has no positive scale per channel"
        if (
            not isinstance(offset, list)
            or len(offset) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in offset)
        ):
            return "has no ground-truth offset"
    return None


#: Arrays that passed the fast check in this process: (path, size, mtime, inode) of each.
_CHECKED: set[tuple[str, int, int, int]] = set()


def open_array(cache_dir: str | Path, meta: dict) -> np.ndarray:
    """Memory-map a cached array (read-only, nothing loaded until indexed), after the fast
    check of its content against the manifest (once per array and process).

    Raises:
        CacheError: the array is missing or damaged; names it and the fix.
    """
    path = array_file(cache_dir, meta)
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    except OSError:
        key = None
    if key is None or key not in _CHECKED:
        problem = array_problem(cache_dir, meta)
        if problem is not None:
            raise CacheError(f"{path}: the cached array {problem}; {_REBUILD}")
        if key is not None:
            _CHECKED.add(key)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def verify_cache(cache_dir: str | Path, *, full: bool = False) -> list[str]:
    """Every problem of a cache: its manifest, then each array (fast or ``full`` check).

    Returns:
        One line per problem, naming the file; empty when the cache is sound.
    """
    cache_dir = Path(cache_dir)
    try:
        manifest = load_manifest(cache_dir)
    except CacheError as exc:
        return [str(exc)]
    problems = []
    for meta in manifest["entries"].values():
        try:
            problem = array_problem(cache_dir, meta, full=full)
        except CacheError as exc:
            problems.append(str(exc))
            continue
        if problem is not None:
            problems.append(f"{array_file(cache_dir, meta)}: the cached array {problem}")
    return problems


def retire_if_damaged(manifest: str | Path) -> list[str]:
    """Fast-check the cache of an existing ``manifest``; if anything fails, move the manifest
    to ``manifest.json.damaged``, so that the workflow sees ``pack``'s output missing and
    reruns it (which rebuilds only what failed, then removes the ``.damaged`` file).

    Returns:
        The problems found (empty when the manifest is absent or the cache is sound).
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        return []
    problems = verify_cache(manifest.parent)
    if problems:
        os.replace(manifest, manifest.with_name(manifest.name + DAMAGED_SUFFIX))
    return problems

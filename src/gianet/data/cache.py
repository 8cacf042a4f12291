"""Packing: every raw of a dataset decoded once into the cache, uint16 ``.npy`` on disk.

Layout under ``CACHE/{dataset}/{camera}/``::

    inputs/00001_00_0.1s.npy    (C, h, w) uint16 packed raw above black (C = 4 or 9)
    inputs/00001_00_0.1s.json   its entry: the source's fingerprint and sha256, the array's
                                shape, bytes, sha256 and fingerprint, CFA, scale, levels
    gt/00001_00_10s.npy         (3, H, W) uint16 sRGB ground truth
    gt/00001_00_10s.json
    manifest.json               every entry and every pair of each split (written last)
    verified.json               which files were verified at which fingerprint
                                (:mod:`gianet.data.verified`; local, never versioned)

The manifest records what the files hold, never where or when they were written (their
fingerprints are in ``verified.json``): packing the same dataset again writes the same
manifest, so nothing that read the cache is recomputed.

Every pair of every split list is packed; which pairs a training validates on and an
evaluation tests on is their own setting (``train.val_exposures``, ``evaluate.test_exposures``,
``sid.exclude_scenes``), so the cache never depends on a protocol. Each array and its entry
are written atomically (:mod:`gianet.atomic`); a file that fails is reported with the others at
the end, after every good file has been cached, so nothing already computed is lost.

An entry is reused, without decoding, while its source's fingerprint (size, modification time,
inode) and the dataset record's sha256 for it are those it was packed from, it was packed with
the same levels (``sid.levels``), and its array passes its checks: the cheap ones while the
array's fingerprint is the one recorded, the sha256 of every byte otherwise (or always, with
``full_check``). Every file decoded is checked against the dataset's record
(:mod:`gianet.data.sources`): a raw that differs from the file the dataset was made with stops
packing, naming it.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from gianet import atomic
from gianet.data.arrays import array_problem, content_record
from gianet.data.lists import Pair
from gianet.data.manifest import CacheError, array_file, pair_problem
from gianet.data.raw import RawError, pack, read_ground_truth, read_mosaic, with_levels
from gianet.data.sources import RecordError, check_against_record, read_record
from gianet.data.verified import record_packed, without_fingerprints
from gianet.data.xtrans import xtrans_phase
from gianet.errors import explain, one_line
from gianet.fetch.checksums import sha256_of, stat_fingerprint
from gianet.jobs.children import die_with_parent
from gianet.jobs.cpus import bounded
from gianet.paths import MANIFEST


def entry_paths(cache_dir: Path, kind: str, source: str) -> tuple[Path, Path]:
    """(array, entry) files of a source: ``inputs/<stem>.npy`` or ``gt/<stem>.npy``."""
    stem = Path(source).name.rsplit(".", 1)[0]
    folder = cache_dir / ("inputs" if kind == "input" else "gt")
    return folder / f"{stem}.npy", folder / f"{stem}.json"


@functools.cache
def _record(record: str) -> dict[str, tuple[int, str]]:
    """A dataset record, read once per process (workers read it for every file they pack)."""
    return read_record(Path(record))


def reusable_entry(
    cache_dir: Path, source: Path, name: str, kind: str, levels: str, record: str, full: bool
) -> dict | None:
    """The entry already packed for ``name``, when it can be used as it is (see the module
    docstring); ``None`` when the file must be decoded again. An array whose fingerprint
    changed but whose content is the recorded one gets its new fingerprint recorded."""
    array_path, entry_path = entry_paths(cache_dir, kind, name)
    try:
        with atomic.open_regular(entry_path, text=True) as handle:  # never a FIFO or a link
            meta = json.loads(handle.read())
        fingerprint = stat_fingerprint(source)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("shape"), list):
        return None
    if meta.get("source_fingerprint") != fingerprint:
        return None
    if meta.get("source_sha256") != _record(record).get(name, (None, None))[1]:
        return None
    if kind == "input" and meta.get("levels") != levels:
        return None
    try:
        if array_path != array_file(cache_dir, meta) or "array_sha256" not in meta:
            return None
        unchanged = meta.get("array_fingerprint") == stat_fingerprint(array_path, changes=True)
        if array_problem(cache_dir, meta, full=full or not unchanged) is not None:
            return None
    except (CacheError, OSError):
        return None
    if not unchanged:
        meta["array_fingerprint"] = stat_fingerprint(array_path, changes=True)
        atomic.write_json(entry_path, meta)
    return meta


def decode_entry(
    root: Path, cache_dir: Path, kind: str, name: str, levels: str, source_sha256: str
) -> dict:
    """Decode one source (a short exposure into a packed input, a long one into its ground
    truth) whose sha256 is ``source_sha256``, write its array and entry atomically and return
    the entry.

    Raises:
        RawError: the file cannot be decoded.
        OSError: the file cannot be read, or the array not written.
    """
    source = root / name
    fingerprint = stat_fingerprint(source)
    meta: dict = {"source": name, "kind": kind, "source_fingerprint": fingerprint}
    if kind == "input":
        mosaic = with_levels(read_mosaic(source), levels)
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
        array = read_ground_truth(source)
    meta["source_sha256"] = source_sha256
    array_path, entry_path = entry_paths(cache_dir, kind, name)
    meta["array"] = array_path.relative_to(cache_dir).as_posix()
    meta["shape"] = list(array.shape)
    atomic.save_npy(array_path, array)
    meta |= content_record(array_path)
    atomic.write_json(entry_path, meta)
    return meta


def pack_one(
    task: tuple[str, str, str, str, str, str, bool],
) -> tuple[str, dict | None, str | None]:
    """Reuse or decode one file (a worker's job); a file is checked against the dataset
    record before anything of it is written. Returns ``(name, entry, error)``."""
    root, cache_dir, kind, name, levels, record, full = task
    source = Path(root) / name
    fresh = reusable_entry(Path(cache_dir), source, name, kind, levels, record, full)
    if fresh is not None:
        return name, fresh, None
    try:
        digest = sha256_of(source)
        check_against_record(name, source.stat().st_size, digest, _record(record), Path(record))
        meta = decode_entry(Path(root), Path(cache_dir), kind, name, levels, digest)
    except (RawError, RecordError) as exc:
        return name, None, str(exc)
    except OSError as exc:
        return name, None, explain(exc) or f"{exc.filename or name}: {one_line(exc)}"
    return name, meta, None


def build_cache(
    root: str | Path,
    splits: dict[str, list[Pair]],
    cache_dir: str | Path,
    *,
    record: str | Path,
    levels: str,
    workers: int = 1,
    progress: bool = True,
    full_check: bool = False,
) -> Path:
    """Pack every file the splits name into the cache and write ``manifest.json``.

    Args:
        root: dataset root the pairs' paths are relative to.
        splits: every pair of each split list (``train``, ``val``, ``test``).
        cache_dir: ``CACHE/{dataset}/{camera}``.
        record: the dataset's record (:mod:`gianet.data.sources`); every decoded file is
            checked against it.
        levels: black and white levels of the packed inputs: ``"file"`` (each raw's own) or
            ``"sid"`` (SID's constants, :data:`gianet.domain.cameras.CAMERAS`).
        workers: decoding processes (one decode per file, in parallel over cores), at most
            the CPUs this process may use (:func:`gianet.jobs.cpus.bounded`); they die with
            this process (:func:`gianet.jobs.children.die_with_parent`).
        progress: show a progress bar.
        full_check: check reused arrays by the sha256 of every byte.

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
        (str(root), str(cache_dir), kind, name, levels, str(record), full_check)
        for kind, name in sorted(wanted)
    ]
    entries: dict[str, dict] = {}
    errors: list[str] = []
    bar = tqdm(total=len(tasks), desc=f"packing {cache_dir}", unit="file", disable=not progress)
    workers = bounded(workers, "pack's workers (runtime.threads)")
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
            for name, meta, error in pool.map(pack_one, tasks, chunksize=1):
                _collect(name, meta, error, entries, errors)
                bar.update()
    else:
        for task in tasks:
            _collect(*pack_one(task), entries, errors)
            bar.update()
    bar.close()
    for pair in (pair for pairs in splits.values() for pair in pairs):
        short, long = entries.get(pair.short), entries.get(pair.long)
        if short is not None and long is not None and (problem := pair_problem(short, long)):
            errors.append(
                f"{pair.short}, {pair.long}: {problem}; the pair does not belong together"
            )
    if errors:
        raise CacheError(
            f"{len(errors)} problem(s) while caching {root} ({len(entries)} files cached and "
            "kept):\n" + "\n".join(sorted(set(errors)))
        )
    record_packed(cache_dir, entries)
    manifest = {
        "root": str(root),
        "record_sha256": sha256_of(Path(record)),
        "protocol": {"levels": levels},
        "entries": {name: without_fingerprints(meta) for name, meta in entries.items()},
        "splits": {name: [asdict(p) for p in pairs] for name, pairs in splits.items()},
    }
    return atomic.write_json(cache_dir / MANIFEST, manifest)


def _collect(name: str, meta: dict | None, error: str | None, entries: dict, errors: list):
    if error is not None:
        errors.append(error)
    else:
        entries[name] = meta

"""The cache's integrity: every array verified once after it is written, and again whenever
its file changes.

The guarantee: an array is read by training or evaluation only if the sha256 of every byte
has matched its manifest entry since the file last changed. ``gianet pack`` hashes each array
it writes and records the file's fingerprint (size, modification time, inode and status-change
time, which every write moves and no one can set back); the
``verify_cache`` job (:func:`verify_cache`) hashes every array whose fingerprint differs from
the one last verified, rebuilds from its source any that is damaged, and records the
fingerprints it verified in ``verified.json``. The workflow runs it when an array's
modification time moves past that record's (Snakemake's own test), so a damaged cache is
repaired in the run that needs it, before any job reads it, and nothing is retrained (the
rebuilt array has the recorded bytes). Training and evaluation check the fingerprints of the
arrays they read at start (:func:`check_cache`): one that changed without moving its
modification time forward is hashed there and, if damaged, named with the command that repairs
it. They also check that the raws the cache was packed from are unchanged since packing.

Not covered: damage that leaves a file's fingerprint as it was, which only happens below the
file system (a failing disk, a restore of a disk image).
``gianet pack --full-check`` and ``snakemake --forcerun verify_cache`` hash everything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from gianet import atomic
from gianet.data.arrays import array_problem
from gianet.data.cache import decode_entry, entry_paths
from gianet.data.lists import Pair
from gianet.data.manifest import CacheError, array_file, load_manifest
from gianet.data.sources import check_against_record, read_record
from gianet.errors import GianetError
from gianet.fetch.checksums import sha256_of, stat_fingerprint

REPAIR = "`snakemake --forcerun verify_cache` (or `gianet verify-cache`) repairs it"
STATE_FORMAT = 1


def read_state(state: Path) -> dict[str, list[int]]:
    """Array (relative to the cache) -> the fingerprint it was last verified at; empty when
    the state is missing or unreadable (everything is then hashed again)."""
    try:
        value = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(value, dict) or value.get("format") != STATE_FORMAT:
        return {}
    arrays = value.get("arrays")
    return arrays if isinstance(arrays, dict) else {}


def _verified(meta: dict, state: dict[str, list[int]], fingerprint: list[int]) -> bool:
    """Whether an array with this fingerprint was verified: by pack when it wrote or reused
    it, or by a later verification."""
    return fingerprint in (meta.get("array_fingerprint"), state.get(meta["array"]))


def verify_cache(
    cache_dir: str | Path, state_path: str | Path, *, record: str | Path, progress: bool = True
) -> list[str]:
    """Hash every array whose fingerprint changed since it was last verified, rebuild the
    damaged ones from their sources, and write the verification state.

    Args:
        cache_dir: the cache folder with its manifest.
        state_path: ``verified.json`` to write.
        record: the dataset's record; a rebuilt array's source is checked against it.
        progress: show a progress bar.

    Returns:
        One line per array rebuilt (empty when the cache was sound).

    Raises:
        CacheError: an array cannot be rebuilt (its source is gone or changed, or decoding
            it gives other bytes than packed); names it and the fix.
    """
    cache_dir, state_path = Path(cache_dir), Path(state_path)
    manifest = load_manifest(cache_dir)
    state = read_state(state_path)
    verified: dict[str, list[int]] = {}
    rebuilt: list[str] = []
    root = Path(manifest["root"])
    entries = list(manifest["entries"].values())
    for meta in tqdm(entries, desc=f"verifying {cache_dir}", disable=not progress):
        path = array_file(cache_dir, meta)
        try:
            fingerprint = stat_fingerprint(path, changes=True)
        except OSError:
            fingerprint = None
        problem = None
        if fingerprint is None or not _verified(meta, state, fingerprint):
            problem = array_problem(cache_dir, meta, full=True)
        if problem is not None:
            _rebuild(root, cache_dir, meta, record)
            rebuilt.append(f"{path}: {problem}; rebuilt from {meta['source']}")
            fingerprint = stat_fingerprint(path, changes=True)
        verified[meta["array"]] = fingerprint
    atomic.write_json(state_path, {"format": STATE_FORMAT, "arrays": verified})
    return rebuilt


def _rebuild(root: Path, cache_dir: Path, meta: dict, record: str | Path) -> None:
    """Decode a damaged array again from its source, which must be the recorded file, into
    the bytes the manifest records."""
    source = root / meta["source"]
    fix = "restore the dataset, or rebuild the cache with `snakemake --forcerun pack`"
    try:
        digest = sha256_of(source)
        check_against_record(
            meta["source"], source.stat().st_size, digest, read_record(Path(record)), Path(record)
        )
        levels = meta.get("levels", "file")
        rebuilt = decode_entry(root, cache_dir, meta["kind"], meta["source"], levels, digest)
    except (OSError, GianetError) as exc:
        raise CacheError(
            f"{array_file(cache_dir, meta)}: damaged, and cannot be rebuilt from "
            f"{source} ({exc}); {fix}"
        ) from None
    if rebuilt["array_sha256"] != meta.get("array_sha256", rebuilt["array_sha256"]):
        entry_paths(cache_dir, meta["kind"], meta["source"])[1].unlink(missing_ok=True)
        raise CacheError(
            f"{array_file(cache_dir, meta)}: decoding {source} again gives other bytes than it "
            f"was packed into (a changed decoder?); {fix} (what was trained on it retrains)"
        )


def check_cache(
    cache_dir: str | Path, state_path: str | Path, manifest: dict, pairs: Iterable[Pair]
) -> None:
    """Before a job reads them: the arrays of ``pairs`` are the verified ones, and the raws
    they were packed from are unchanged (see the module docstring).

    Raises:
        CacheError: an array is damaged, or a raw changed since packing; names it and the fix.
    """
    cache_dir = Path(cache_dir)
    state = read_state(Path(state_path))
    root = Path(manifest["root"])
    names = {name for pair in pairs for name in (pair.short, pair.long)}
    for name in sorted(names):
        meta = manifest["entries"][name]
        path = array_file(cache_dir, meta)
        try:
            fingerprint = stat_fingerprint(path, changes=True)
        except OSError:
            fingerprint = None
        if fingerprint is None or not _verified(meta, state, fingerprint):
            problem = array_problem(cache_dir, meta, full=True)
            if problem is not None:
                raise CacheError(f"{path}: the cached array {problem}; {REPAIR}")
        _check_source(root / name, meta)


def _check_source(source: Path, meta: dict) -> None:
    recorded = meta.get("source_fingerprint")
    try:
        current = stat_fingerprint(source)
    except FileNotFoundError:
        return  # the raws may be removed once packed: the cache is what is read
    if recorded is not None and current != recorded:
        raise CacheError(
            f"{source}: changed since it was packed (size, modification time or inode differ), "
            "so the cache may not hold this file. If it was copied or restored, "
            "`snakemake --forcerun pack` checks it against the dataset record (nothing "
            "retrains if its content is the same); if it was replaced, restore the dataset's "
            "file (`snakemake --forcerun synth`, `sid_unpack`, or `dvc checkout`)"
        )

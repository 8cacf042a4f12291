"""The cache's integrity: every file a job reads is the verified one, checked again whenever
it changes, and a damaged array is rebuilt by the job that needs it.

The packed cache is derived data (:mod:`gianet.data.cache`): its manifest is versioned with
the results, its arrays are rebuilt from the dataset whenever they are missing or damaged.
Before a training or an evaluation reads the cache, :func:`prepare_cache` checks, under the
cache's lock (one job at a time, the others wait), every file it is about to read:

- each raw the arrays were packed from: while its fingerprint (size, modification time,
  inode) is the one last verified it is trusted; otherwise it is hashed, and one whose content
  differs from the dataset's record (:mod:`gianet.data.sources`) stops the job, naming it;
- each array: while its fingerprint (size, modification time, inode and status-change time,
  which every write moves and no one can set back) is the one last verified it is trusted;
  otherwise every byte is hashed against its manifest entry, and a missing or damaged array is
  decoded again from its (checked) raw into the bytes the manifest records.

The fingerprints last verified are kept in ``verified.json`` beside the manifest
(:mod:`gianet.data.verified`; ``gianet pack`` seeds it with what it wrote): a cache copied
elsewhere, or raws written again by ``dvc checkout``, are hashed once and trusted after. So the
guarantee: no job trains or evaluates on a file whose content differs from what the manifest and
the dataset record say. Not covered: damage that leaves a file's fingerprint as it was, which
only happens below the file system (a failing disk, a restored disk image); ``gianet
verify-cache --full`` hashes every byte.

Nothing here runs while Snakemake builds its DAG: ``snakemake -n`` on a damaged cache changes
no file, and the run that reads a damaged array repairs it first (at most once: the others
wait on the lock and find it repaired). Repairs retrain nothing: the rebuilt array holds the
bytes it was trained on.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from gianet.data.arrays import array_problem
from gianet.data.cache import decode_entry
from gianet.data.lists import Pair
from gianet.data.manifest import CacheError, array_file
from gianet.data.sources import check_against_record, read_record
from gianet.data.verified import read_state, state_file, write_state
from gianet.errors import GianetError
from gianet.fetch.checksums import sha256_of, stat_fingerprint
from gianet.jobs.locks import output_lock


def prepare_cache(
    cache_dir: str | Path,
    manifest: dict,
    record: str | Path,
    pairs: Iterable[Pair],
    *,
    full: bool = False,
    progress: bool = False,
) -> list[str]:
    """Make sure every file the ``pairs`` read is the verified one, rebuilding damaged or
    missing arrays (see the module docstring), under the cache's lock.

    Args:
        cache_dir: the cache folder (holding ``manifest.json``).
        manifest: the cache's manifest (:func:`gianet.data.manifest.load_manifest`).
        record: the dataset's record the manifest was packed from.
        pairs: the pairs the job reads.
        full: hash every file, whatever its fingerprint.
        progress: show a progress bar.

    Returns:
        One line per array rebuilt.

    Raises:
        CacheError: a raw differs from the dataset record, or an array cannot be rebuilt;
            names the file and the fix.
    """
    cache_dir = Path(cache_dir)
    state_path = state_file(cache_dir)
    names = sorted({name for pair in pairs for name in (pair.short, pair.long)})
    with output_lock(state_path, wait=True):
        state = read_state(state_path)
        before = copy.deepcopy(state)
        checker = _Checker(cache_dir, manifest, Path(record), state, full)
        rebuilt = [
            line
            for name in tqdm(names, desc=f"checking {cache_dir}", disable=not progress)
            if (line := checker.check(name))
        ]
        if state != before:  # the fast path writes nothing (a durable write is most of it)
            write_state(state_path, state)
    return rebuilt


class _Checker:
    """Checks one entry's raw and array, updating ``state`` with what it verified."""

    def __init__(self, cache_dir: Path, manifest: dict, record: Path, state: dict, full: bool):
        self.cache_dir, self.manifest, self.record_path = cache_dir, manifest, record
        self.root = Path(manifest["root"])
        self.state, self.full = state, full
        self.record: dict | None = None

    def check(self, name: str) -> str | None:
        meta = self.manifest["entries"][name]
        self._source(name, meta)
        return self._array(meta)

    def _source(self, name: str, meta: dict) -> None:
        """The raw, when it is there: trusted while its fingerprint is the verified one, else
        hashed and compared with the dataset record. (A raw removed once packed is fine: the
        cache is what is read.)"""
        source = self.root / name
        try:
            fingerprint = stat_fingerprint(source)
        except FileNotFoundError:
            return
        if not self.full and fingerprint == self.state["sources"].get(name):
            return
        if self.record is None:
            self.record = read_record(self.record_path)
        try:
            check_against_record(
                name, fingerprint[0], sha256_of(source), self.record, self.record_path
            )
        except GianetError as exc:
            raise CacheError(f"{exc} (the cache was packed from the recorded file)") from None
        self.state["sources"][name] = fingerprint

    def _array(self, meta: dict) -> str | None:
        """The array: trusted while its fingerprint is the verified one, else hashed, and
        rebuilt when missing or damaged. Returns a line when it was rebuilt."""
        path = array_file(self.cache_dir, meta)
        try:
            fingerprint = stat_fingerprint(path, changes=True)
        except OSError:
            fingerprint = None
        known = self.state["arrays"].get(meta["array"])
        if fingerprint is not None and not self.full and fingerprint == known:
            return None
        problem = array_problem(self.cache_dir, meta, full=True)
        line = None
        if problem is not None:
            self._rebuild(meta)
            line = f"{path}: {problem}; rebuilt from {meta['source']}"
        self.state["arrays"][meta["array"]] = stat_fingerprint(path, changes=True)
        return line

    def _rebuild(self, meta: dict) -> None:
        """Decode a damaged or missing array again from its (recorded) raw into the bytes the
        manifest records."""
        source = self.root / meta["source"]
        fix = "restore the dataset, or rebuild the cache with `snakemake --forcerun pack`"
        try:
            if self.record is None:
                self.record = read_record(self.record_path)
            digest = sha256_of(source)
            check_against_record(
                meta["source"], source.stat().st_size, digest, self.record, self.record_path
            )
            levels = meta.get("levels", "file")
            kind, name = meta["kind"], meta["source"]
            rebuilt = decode_entry(self.root, self.cache_dir, kind, name, levels, digest)
        except (OSError, GianetError) as exc:
            raise CacheError(
                f"{array_file(self.cache_dir, meta)}: missing or damaged, and it cannot be "
                f"rebuilt from {source} ({exc}); {fix}"
            ) from None
        if rebuilt["array_sha256"] != meta.get("array_sha256", rebuilt["array_sha256"]):
            raise CacheError(
                f"{array_file(self.cache_dir, meta)}: decoding {source} again gives other bytes "
                f"than it was packed into (a changed decoder?); {fix} (what was trained on it "
                "retrains)"
            )

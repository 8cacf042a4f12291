"""``verified.json``: which files of a packed cache were last verified at which fingerprint.

The manifest records what each file holds (sizes and sha256s, the same wherever the cache is
rebuilt), and this state records where and when that was last checked here: the fingerprint
(:func:`gianet.fetch.checksums.stat_fingerprint`) each raw and each array had when its content
was last found to be the recorded one. It is local bookkeeping, never versioned: a copied
cache, or raws written again by ``dvc checkout``, have other fingerprints and are hashed once.

``gianet pack`` seeds it with the files it has just written or checked; the jobs that read the
cache update it (:mod:`gianet.data.verify`). Both hold the state's lock while they write it.
"""

from __future__ import annotations

import json
from pathlib import Path

from gianet import atomic
from gianet.jobs.locks import output_lock
from gianet.paths import VERIFIED

FORMAT = 1
#: The keys of a packed entry that describe a file here, not its content: kept in the state,
#: never in the manifest.
FINGERPRINTS = ("source_fingerprint", "array_fingerprint")


def state_file(cache_dir: str | Path) -> Path:
    """The cache's ``verified.json``."""
    return Path(cache_dir) / VERIFIED


def read_state(path: Path) -> dict[str, dict[str, list[int]]]:
    """``{"sources": {name: fingerprint}, "arrays": {array: fingerprint}}``; empty when the
    state is missing or unreadable (everything is then checked again)."""
    try:
        with atomic.open_regular(path, text=True) as handle:  # never a FIFO or a link
            value = json.loads(handle.read())
    except (OSError, ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        return {"sources": {}, "arrays": {}}
    return {key: _fingerprints(value.get(key)) for key in ("sources", "arrays")}


def _fingerprints(value: object) -> dict[str, list[int]]:
    """The entries of a state's section that are fingerprints (a name and a list of
    integers); anything else in a damaged or foreign state is dropped, so checked again."""
    if not isinstance(value, dict):
        return {}
    return {
        name: fingerprint
        for name, fingerprint in value.items()
        if isinstance(name, str)
        and isinstance(fingerprint, list)
        and all(type(number) is int for number in fingerprint)
    }


def write_state(path: Path, state: dict[str, dict[str, list[int]]]) -> None:
    """Write the state atomically (the caller holds its lock)."""
    atomic.write_json(path, {"format": FORMAT, **state})


def record_packed(cache_dir: str | Path, entries: dict[str, dict]) -> None:
    """Remember the fingerprints of the entries ``gianet pack`` has just written or checked.

    Args:
        cache_dir: the cache folder.
        entries: ``{source name: entry}``, each with its ``source_fingerprint`` and
            ``array_fingerprint``.
    """
    path = state_file(cache_dir)
    with output_lock(path, wait=True):
        state = read_state(path)
        for name, meta in entries.items():
            state["sources"][name] = meta["source_fingerprint"]
            state["arrays"][meta["array"]] = meta["array_fingerprint"]
        write_state(path, state)


def without_fingerprints(meta: dict) -> dict:
    """An entry as the manifest records it: what its files hold, not where they are."""
    return {key: value for key, value in meta.items() if key not in FINGERPRINTS}

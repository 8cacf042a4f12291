"""The packed cache's index, ``manifest.json``: reading it and checking what it says.

``gianet pack`` writes the manifest last, after every array it names (:mod:`gianet.data.cache`):
the dataset root, the levels the inputs were packed with, one entry per packed file (its
source's fingerprint and sha256, its array's shape, size, sha256 and fingerprint, and for an
input its CFA, scale and ground-truth offset) and every pair of each split. Readers check its
structure and the pairs' shapes before using it (:func:`load_manifest`), so a damaged or foreign
manifest is one clear error naming the file and the command that rebuilds it.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path, PurePosixPath

from gianet.data.lists import Pair
from gianet.domain.cameras import CFAS
from gianet.errors import GianetError, one_line
from gianet.paths import MANIFEST

REBUILD = "rerun `gianet pack` (`snakemake --forcerun pack`) to rebuild it"
_PAIR_FIELDS = {field.name for field in fields(Pair)}


class CacheError(GianetError, RuntimeError):
    """Some files could not be cached, or a cached one is damaged; the message names each
    file and the fix."""


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
        raise CacheError(f"{path}: no cache manifest; {REBUILD}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        detail = one_line(exc)
        raise CacheError(f"{path}: cannot read the cache manifest ({detail}); {REBUILD}") from None
    problem = _manifest_problem(manifest)
    missing = [split for split in splits if problem is None and split not in manifest["splits"]]
    if missing:
        problem = f"it has no {', '.join(missing)} split"
    if problem:
        raise CacheError(f"{path}: not a manifest written by gianet pack: {problem}; {REBUILD}")
    return manifest


def _manifest_problem(manifest: object) -> str | None:
    """What makes ``manifest`` unusable, or ``None``."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    entries, splits = manifest.get("entries"), manifest.get("splits")
    if not isinstance(entries, dict) or not isinstance(splits, dict):
        return "no 'entries' and 'splits' objects"
    if not isinstance(manifest.get("root"), str) or not manifest["root"]:
        return "no 'root' naming the dataset's folder"
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
            problem = pair_problem(entries[pair["short"]], entries[pair["long"]])
            if problem:
                return f"the pair {pair['short']!r}, {pair['long']!r}: {problem}"
    return None


def pair_problem(short: dict, long: dict) -> str | None:
    """Why a packed input entry (C, h, w) and its ground-truth entry (3, H, W) do not fit
    together (C not the CFA's channel count, or H < u*h + dy or W < u*w + dx for the CFA's
    upscale u and the input's offset (dy, dx)), or ``None`` when they do. ``pack`` checks
    every pair so before writing the manifest, and :func:`load_manifest` again on reading it."""
    if "cfa" not in short:
        return "the input entry has no CFA"
    channels, height, width = short["shape"]
    if channels != CFAS[short["cfa"]].channels or long["shape"][0] != 3:
        return f"shapes {short['shape']} and {long['shape']} are not a {short['cfa']} input and RGB"
    upscale = CFAS[short["cfa"]].upscale
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
        if meta.get("cfa") not in CFAS:
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
            f"inside the cache; {REBUILD}"
        )
    return Path(cache_dir) / relative

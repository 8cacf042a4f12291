"""The packed cache's arrays: checking one against its manifest entry, and opening it.

An array is a uint16 ``.npy`` file; its entry records its shape, its size in bytes, the sha256
of every byte and the fingerprint (size, modification time, inode, status-change time) it had
when that sha256 was last computed. :func:`array_problem` compares a file with its entry: the
cheap checks (size, ``.npy`` header, shape) always, the sha256 of every byte when asked.
Readers open arrays memory-mapped (:func:`open_array`), so memory does not grow with the
dataset; which arrays have been verified since they last changed is :mod:`gianet.data.verify`'s
business."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gianet import atomic
from gianet.data.manifest import REBUILD, CacheError, array_file
from gianet.errors import one_line
from gianet.fetch.checksums import sha256_of, stat_fingerprint


def npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, bytes the file must have) from a ``.npy`` header.

    Raises:
        ValueError: not a ``.npy`` file, or a header numpy cannot read.
    """
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    with atomic.open_regular(path) as handle:  # a FIFO planted there is refused, not read
        version = np.lib.format.read_magic(handle)
        if version not in readers:
            raise ValueError(f".npy format version {version} is not one numpy.save writes here")
        shape, _, dtype = readers[version](handle)
        data_offset = handle.tell()
    return shape, dtype, data_offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


def content_record(path: Path) -> dict:
    """What an entry records of its array's content: bytes, sha256 and fingerprint."""
    fingerprint = stat_fingerprint(path, changes=True)
    return {
        "array_bytes": fingerprint[0],
        "array_sha256": sha256_of(path),
        "array_fingerprint": fingerprint,
    }


def array_problem(cache_dir: str | Path, meta: dict, *, full: bool = False) -> str | None:
    """Why an entry's array cannot be used, or ``None``.

    Always checks that the file exists and that its size, ``.npy`` header and shape are what
    the entry records; with ``full``, also the sha256 of every byte (entries that record no
    sha256, such as a test's, get the cheap checks only).

    Raises:
        CacheError: the entry names no array inside the cache.
    """
    path = array_file(cache_dir, meta)
    try:
        size = path.stat().st_size
        shape, dtype, needed = npy_layout(path)
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
    if full and "array_sha256" in meta and sha256_of(path) != meta["array_sha256"]:
        return "differs from the content the manifest records (its sha256)"
    return None


#: Arrays whose cheap checks passed in this process: (path, size, mtime, inode) of each.
_CHECKED: set[tuple[str, int, int, int]] = set()


def open_array(cache_dir: str | Path, meta: dict) -> np.ndarray:
    """Memory-map a cached array (read-only, nothing loaded until indexed), after the cheap
    checks of :func:`array_problem` (once per array and process).

    Raises:
        CacheError: the array is missing, cut short or of another shape; names it and the fix.
    """
    path = array_file(cache_dir, meta)
    try:
        key = (str(path), *stat_fingerprint(path, changes=True))
    except OSError:
        key = None
    if key is None or key not in _CHECKED:
        problem = array_problem(cache_dir, meta)
        if problem is not None:
            raise CacheError(f"{path}: the cached array {problem}; {REBUILD}")
        if key is not None:
            _CHECKED.add(key)
    return np.load(path, mmap_mode="r", allow_pickle=False)

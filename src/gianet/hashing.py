"""sha256 of files, read in 1 MiB blocks (shared by the download and the packed cache)."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20


def hash_file(path: Path) -> hashlib._Hash:
    """A sha256 object fed with every byte of ``path`` (more bytes may be added later)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    return hash_file(path).hexdigest()

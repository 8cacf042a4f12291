"""sha256 of files and the checksum files that record them (downloads, weights, the cache).

A checksum file is JSON (``{"Sony2025.zip": "<sha256>"}``) when its name ends in ``.json``
and ``sha256sum`` text (``<sha256>  Sony2025.zip``) otherwise; entries are keyed by file name.
"""

from __future__ import annotations

import hashlib
import json
import os
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


def read_checksums(checksum_file: Path) -> dict[str, str]:
    """File name -> sha256 from a JSON or ``sha256sum``-format checksum file."""
    text = checksum_file.read_text()
    if checksum_file.suffix == ".json":
        return {name: digest.lower() for name, digest in json.loads(text or "{}").items()}
    entries = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            entries[name.lstrip("*")] = digest.lower()
    return entries


def read_recorded(checksum_file: Path | None, name: str) -> str | None:
    """The digest recorded for ``name``, or ``None`` when there is none."""
    if checksum_file is None or not checksum_file.exists():
        return None
    return read_checksums(checksum_file).get(name)


def record_sha256(checksum_file: Path, name: str, sha256: str) -> None:
    """Add ``name``'s digest to ``checksum_file``, rewriting it atomically."""
    entries = read_checksums(checksum_file) if checksum_file.exists() else {}
    entries[name] = sha256
    if checksum_file.suffix == ".json":
        text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
    else:
        text = "".join(f"{digest}  {key}\n" for key, digest in sorted(entries.items()))
    checksum_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = checksum_file.with_name(checksum_file.name + ".partial")
    temporary.write_text(text)
    os.replace(temporary, checksum_file)

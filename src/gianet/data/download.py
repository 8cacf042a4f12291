"""Resumable, verified download of one large file (SID's archives are 25 and 52 GB).

The bytes stream into ``<dest>.part``; an interrupted download is resumed with an HTTP
``Range`` request, both within one call (connection errors, timeouts, 5xx answers and
truncated bodies are retried with exponential back-off) and across calls (running again
continues from the ``.part`` left behind). The sha256 is computed while streaming.

SID publishes no checksums, so the first complete download records its sha256 in a checksum
file (trust on first use) and every later download, or an existing ``dest``, is verified
against it. The checksum file is JSON (``{"Sony2025.zip": "<sha256>"}``) when its name ends in
``.json`` and ``sha256sum`` text (``<sha256>  Sony2025.zip``) otherwise; entries are keyed by
``dest``'s file name.

Bytes that fail verification never stay at ``dest``: they are kept as ``<dest>.part`` (a
downloaded file stays there, an existing ``dest`` is moved there), so that after updating a
recorded checksum a rerun verifies them without downloading again, while deleting the
``.part`` fetches the file from scratch. ``dest`` only ever appears through an atomic rename
of a complete, verified file.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from gianet.checksums import hash_file, read_recorded, record_sha256, sha256_of
from gianet.errors import GianetError

_RETRYABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_RETRYABLE_STATUS = {408, 429}
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<start>\d+)-\d+|\*)/(?P<total>\d+|\*)")


class DownloadError(GianetError, RuntimeError):
    """A download failed or its bytes do not match the expected sha256; says what to do."""


class _TransientError(Exception):
    """A failed attempt worth retrying (5xx answer, truncated body, inconsistent range)."""


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download` left at ``path``.

    Attributes:
        path: the complete, verified file (``dest``).
        sha256: its hex sha256.
        size: its size in bytes.
        fetched: bytes received over the network by this call (0 when ``dest`` was reused).
        requests: HTTP requests made by this call (0 when ``dest`` was reused).
        recorded: whether this call wrote the sha256 into the checksum file.
    """

    path: Path
    sha256: str
    size: int
    fetched: int
    requests: int
    recorded: bool


@dataclass(frozen=True)
class _Checksum:
    """The digest ``dest`` must have, where it came from, and where to record a new one."""

    name: str
    expected: str | None
    source: str
    checksum_file: Path | None

    @classmethod
    def for_dest(
        cls, dest: Path, expected_sha256: str | None, checksum_file: Path | None
    ) -> _Checksum:
        """The digest given as ``expected_sha256``, else the one recorded for ``dest``."""
        if expected_sha256:
            return cls(dest.name, expected_sha256.lower(), "expected", checksum_file)
        recorded = read_recorded(checksum_file, dest.name)
        return cls(dest.name, recorded, f"recorded in {checksum_file}", checksum_file)

    def matches(self, sha256: str) -> bool:
        """Whether ``sha256`` is the expected digest (always, when none is known yet)."""
        return self.expected is None or sha256 == self.expected

    def mismatch(self, sha256: str, dest: Path, part: Path, what: str) -> DownloadError:
        """The error for ``what`` bytes, now kept at ``part``, whose digest is wrong."""
        return DownloadError(
            f"{dest.name}: the {what} file's sha256 is {sha256} but {self.expected} is "
            f"{self.source}. Its bytes were kept as {part}, not at {dest}. If the download "
            f"was damaged, delete {part} and run again to fetch it afresh; if the provider "
            f"changed the archive, update the checksum of {dest.name} and run again to "
            "accept the kept bytes."
        )

    def record_if_new(self, sha256: str) -> bool:
        """Record ``sha256`` when the checksum file holds no digest for ``name`` yet."""
        if self.checksum_file is None or read_recorded(self.checksum_file, self.name):
            return False
        record_sha256(self.checksum_file, self.name, sha256)
        return True


class _PartFile:
    """The ``.part`` file being written, with the sha256 of the bytes it holds so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest = hash_file(path) if path.exists() else hashlib.sha256()
        self.size = path.stat().st_size if path.exists() else 0
        self.received = 0

    def reset(self) -> None:
        """Drop what was fetched: the next request starts from byte zero."""
        self.path.unlink(missing_ok=True)
        self.digest = hashlib.sha256()
        self.size = 0

    def append(self, blocks: Iterable[bytes], bar: tqdm) -> None:
        """Append ``blocks`` to the file and the digest as they arrive."""
        with open(self.path, "ab") as handle:
            for block in blocks:
                handle.write(block)
                self.digest.update(block)
                self.size += len(block)
                self.received += len(block)
                bar.update(len(block))


def download(
    url: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
    checksum_file: Path | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60,
    chunk: int = 1 << 20,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming, retrying and verifying its sha256.

    Args:
        url: the file to fetch (HTTP or HTTPS).
        dest: where the complete file goes; its parent folder is created.
        expected_sha256: the digest to verify against; when ``None``, the one recorded for
            ``dest.name`` in ``checksum_file`` (if any).
        checksum_file: where digests are recorded (JSON or ``sha256sum`` text, see the module
            docstring); a verified file whose name has no entry yet gets one.
        retries: attempts after the first one before giving up.
        backoff: seconds before the first retry; each further retry waits twice as long.
        timeout: seconds to wait for a connection or for the next bytes.
        chunk: bytes read from the network per block.
        progress: show a tqdm progress bar.
        sleep: how to wait between attempts (tests pass a recorder).

    Returns:
        The complete file's path, digest and size, and what this call did.

    Raises:
        DownloadError: the server refused the file, every attempt failed (what was fetched is
            kept and a rerun resumes), or the bytes do not match the expected digest.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    checksum = _Checksum.for_dest(dest, expected_sha256, checksum_file)
    if dest.exists():
        sha256 = sha256_of(dest)
        if not checksum.matches(sha256):
            os.replace(dest, part)
            raise checksum.mismatch(sha256, dest, part, "existing")
        recorded = checksum.record_if_new(sha256)
        return DownloadResult(dest, sha256, dest.stat().st_size, 0, 0, recorded)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = _PartFile(part)
    requests_made = _fetch(url, partial, retries, backoff, timeout, chunk, progress, sleep)
    sha256 = partial.digest.hexdigest()
    if not checksum.matches(sha256):
        raise checksum.mismatch(sha256, dest, part, "downloaded")
    recorded = checksum.record_if_new(sha256)
    os.replace(part, dest)
    return DownloadResult(dest, sha256, partial.size, partial.received, requests_made, recorded)


def _fetch(
    url: str,
    partial: _PartFile,
    retries: int,
    backoff: float,
    timeout: float,
    chunk: int,
    progress: bool,
    sleep: Callable[[float], None],
) -> int:
    """Complete ``partial`` from ``url``, retrying with back-off; returns the requests made."""
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            _attempt(url, partial, timeout, chunk, progress)
            return attempt + 1
        except (*_RETRYABLE, _TransientError) as error:
            last_error = error
    raise DownloadError(
        f"{url}: download failed after {retries + 1} attempts (last error: {last_error}). "
        f"{partial.size} bytes ({partial.received} of them by this run) are kept in "
        f"{partial.path}; running again resumes from there."
    )


def _attempt(url: str, partial: _PartFile, timeout: float, chunk: int, progress: bool) -> None:
    """One request: append what the server sends to ``partial`` until it is complete.

    Raises:
        _TransientError: a retryable answer or a body that ended early (also any of
            ``_RETRYABLE``); bytes already written stay in ``partial``.
    """
    offset = partial.size
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
        total = _expected_total(response, partial, offset)
        if total is not None and total == partial.size:
            return
        with tqdm(
            total=total,
            initial=partial.size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=partial.path.name.removesuffix(".part"),
            disable=not progress,
        ) as bar:
            partial.append(response.iter_content(chunk), bar)
    if total is not None and partial.size != total:
        raise _TransientError(f"body stopped at byte {partial.size} of {total}")


def _expected_total(response: requests.Response, partial: _PartFile, offset: int) -> int | None:
    """Check the answer's status against the request; returns the file's full size if known.

    Resets ``partial`` when the server sends the whole file instead of the requested range.

    Raises:
        _TransientError: a retryable answer (5xx, 408, 429, a range that does not fit).
        DownloadError: any other refusal (404, 403, ...).
    """
    status = response.status_code
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise _TransientError(f"HTTP {status} {response.reason}")
    if status == 416 and offset:
        total = _content_range(response)[1]
        if total in (None, offset):
            return offset
        partial.reset()
        raise _TransientError(f"the .part held {offset} bytes, more than the file's {total}")
    if status == 206:
        start, total = _content_range(response)
        if start != offset:
            partial.reset()
            raise _TransientError(f"asked for bytes from {offset}, the server sent {start}")
        return total
    if status == 200:
        if offset:
            partial.reset()
        length = response.headers.get("Content-Length")
        return int(length) if length is not None else None
    raise DownloadError(
        f"{response.url}: HTTP {status} {response.reason}. Check the URL (SID's archives "
        "were renamed, e.g. Sony.zip -> Sony2025.zip) and that it is reachable."
    )


def _content_range(response: requests.Response) -> tuple[int | None, int | None]:
    """(first byte, full size) from a ``Content-Range`` header; ``None`` where absent or ``*``."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        return None, None
    start, total = match["start"], match["total"]
    return (int(start) if start else None), (int(total) if total != "*" else None)

"""Resumable, verified download of one large file (SID's archives are 25 and 52 GB).

The bytes stream into ``<dest>.part``; an interrupted download is resumed with an HTTP
``Range`` request, both within one call (connection errors, timeouts, 5xx answers and
truncated bodies are retried with exponential back-off) and across calls (running again
continues from the ``.part`` left behind). Every byte received is kept, also those of an
attempt that then times out (the body is read as it arrives, ``read1``, not in blocks that a
timeout would drop), and ``retries`` counts the attempts in a row that brought no new byte:
a server that sends a little and then stalls is resumed from where it stopped until the file
is complete. The sha256 is computed while streaming.

Before a byte is written, the size the server declares (``Content-Length``, or the total of
a ``Content-Range``) is checked against a plausible bound (``max_bytes``: the largest file
gianet fetches is SID's Fuji archive, 52 GB) and against the free space of ``dest``'s folder;
a body of undeclared size is checked against both as it streams. Either way the download
stops with one line naming the URL, the size and the fix, before the disk fills up.

The ``.part`` is opened through :func:`gianet.atomic.open_no_follow` (a symbolic link, FIFO
or device planted there is refused, never written through), and one lock per ``dest``
(:mod:`gianet.jobs.locks`) keeps a second download of the same file from appending to it. Only http
and https are fetched; redirects are followed by hand and one to another scheme (https to
http, ftp, file ...) is refused. While the server is silent a heartbeat line says so every few
seconds; while bytes arrive a progress bar counts them.

A complete body is accepted as the file only once it is verified as one: an answer of type
``text/html`` is an error page, and a destination named as an archive (``.zip``, ``.tar``,
``.tar.gz``, ``.tgz``) must pass :func:`gianet.fetch.archives.verify_archive` (its signature,
and its own index readable to the end, which a body cut short by a server that sent no
``Content-Length`` fails: such a body is resumed like any other truncated one). A file that is
not an archive at all is moved to ``<dest>.rejected`` for inspection and the download stops.

SID publishes no checksums, so unless one is pinned (``expected_sha256``, from params.yaml's
``sid.archives.<camera>.sha256``) the first complete, verified download records its sha256 in
a checksum file (trust on first use) and every later download, or an existing ``dest``, is
verified against it. The checksum file is JSON (``{"Sony2025.zip": "<sha256>"}``) when its
name ends in ``.json`` and ``sha256sum`` text (``<sha256>  Sony2025.zip``) otherwise; entries
are keyed by ``dest``'s file name.

Bytes that fail the checksum never stay at ``dest``: they are kept as ``<dest>.part`` (a
downloaded file stays there, an existing ``dest`` is moved there), so that after updating a
recorded checksum a rerun verifies them without downloading again, while deleting the
``.part`` fetches the file from scratch. ``dest`` only ever appears through an atomic rename
of a complete, verified file.

The parts: :mod:`gianet.fetch.stream` (the ``.part``, its bounds, the heartbeat),
:mod:`gianet.fetch.http` (what an answer means), :mod:`gianet.fetch.pinned` (the digest a
file must have); this module runs the attempts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from tqdm import tqdm

from gianet import atomic
from gianet.errors import one_line
from gianet.fetch.archives import (
    IncompleteArchive,
    NotAnArchive,
    verify_archive,
)
from gianet.fetch.checksums import sha256_of
from gianet.fetch.http import TransientError, expected_total
from gianet.fetch.pinned import ExpectedDigest
from gianet.fetch.stream import (
    HEARTBEAT_SECONDS,
    MAX_BYTES,
    DownloadError,
    Heartbeat,
    PartFile,
    Room,
    body_blocks,
)
from gianet.jobs.locks import output_lock

_RETRYABLE = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,  # raised while reading the body (timeout, cut connection)
)
#: Redirects followed before giving up (browsers allow about 20).
MAX_REDIRECTS = 10
_LOCAL_FILE_FIX = (
    "file:// URLs are not downloaded: set the archive's path (sid.archives.<camera>.path in "
    "params.yaml) to the local file instead"
)


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
    heartbeat: float = HEARTBEAT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    max_bytes: int = MAX_BYTES,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming, retrying, verifying the format and sha256.

    Args:
        url: the file to fetch (HTTP or HTTPS).
        dest: where the complete file goes; its parent folder is created. Its name says the
            format to verify (see the module docstring).
        expected_sha256: the digest to verify against (pinned); when ``None``, the one
            recorded for ``dest.name`` in ``checksum_file`` (if any).
        checksum_file: where digests are recorded (JSON or ``sha256sum`` text, see the module
            docstring); a verified file whose name has no entry yet gets one.
        retries: attempts in a row that bring no new byte, after the first one, before
            giving up (an attempt that brings bytes starts the count and the back-off again).
        backoff: seconds before the first retry; each further retry waits twice as long.
        timeout: seconds to wait for a connection or for the next bytes.
        chunk: bytes read from the network per block.
        progress: show a tqdm progress bar.
        heartbeat: seconds of silence between two "waiting for the server" lines (0: none).
        sleep: how to wait between attempts (tests pass a recorder).
        max_bytes: the largest size accepted (default :data:`MAX_BYTES`).

    Returns:
        The complete file's path, digest and size, and what this call did.

    Raises:
        DownloadError: a URL that is not http(s) or redirects elsewhere, a server that refused
            the file or answered with something else (an error page), every attempt failed
            (what was fetched is kept and a rerun resumes), a declared size larger than
            ``max_bytes`` or the free space, or the bytes do not match the expected digest.
        gianet.jobs.locks.OutputBusy: another process is downloading ``dest``.
        gianet.atomic.LinkRefused: a symbolic link or special file sits at ``<dest>.part``.
    """
    dest = Path(dest)
    _check_scheme(url)
    atomic.check_writable_target(dest)
    with output_lock(dest):
        return _download(
            url,
            dest,
            ExpectedDigest.for_dest(dest, expected_sha256, checksum_file),
            _Fetch(
                url, dest, timeout, chunk, progress, heartbeat, Room(url, dest.parent, max_bytes)
            ),
            retries,
            backoff,
            sleep,
        )


def _download(
    url: str,
    dest: Path,
    checksum: ExpectedDigest,
    fetch: _Fetch,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> DownloadResult:
    """:func:`download`, under the lock of ``dest``."""
    part = dest.with_name(dest.name + ".part")
    if dest.exists():
        sha256 = sha256_of(dest)
        if not checksum.matches(sha256):
            os.replace(dest, part)
            raise checksum.mismatch(sha256, dest, part, "existing")
        if checksum.expected is None:
            _refuse_if_not_archive(dest, dest)
        recorded = checksum.record_if_new(sha256)
        return DownloadResult(dest, sha256, dest.stat().st_size, 0, 0, recorded)
    partial = PartFile(part)
    _fetch(fetch, partial, retries, backoff, sleep)
    sha256 = partial.digest.hexdigest()
    if not checksum.matches(sha256):
        raise checksum.mismatch(sha256, dest, part, "downloaded")
    recorded = checksum.record_if_new(sha256)
    atomic.commit(part, dest)
    return DownloadResult(dest, sha256, partial.size, partial.received, partial.requests, recorded)


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        raise DownloadError(f"{url}: {_LOCAL_FILE_FIX}")
    if scheme not in ("http", "https"):
        raise DownloadError(f"{url}: not an http(s) URL; give the archive's http(s) address")


def _refuse_if_not_archive(path: Path, dest: Path) -> None:
    """Move ``path`` to ``<dest>.rejected`` and stop when it is not the archive ``dest``'s
    name says.

    Raises:
        DownloadError: not an archive of that format (an error page, say).
        IncompleteArchive: the right format, but its index ends early.
    """
    try:
        verify_archive(path, dest.name)
    except NotAnArchive as exc:
        raise _rejected(path, dest, exc.reason) from None


def _rejected(path: Path, dest: Path, why: str) -> DownloadError:
    """Move ``path`` aside to ``<dest>.rejected``; the error says why and what to do."""
    rejected = dest.with_name(dest.name + ".rejected")
    os.replace(path, rejected)
    return DownloadError(
        f"{dest.name}: the server's answer is not the file: {why}. It was moved to {rejected} "
        "for inspection and no checksum was recorded; check the URL (open it in a browser), "
        "or download the archive by hand and set its path in params.yaml"
    )


@dataclass(frozen=True)
class _Fetch:
    """What every attempt of one download shares."""

    url: str
    dest: Path
    timeout: float
    chunk: int
    progress: bool
    heartbeat: float
    room: Room

    @property
    def name(self) -> str:
        return self.dest.name


def _fetch(
    fetch: _Fetch,
    partial: PartFile,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> None:
    """Complete and verify ``partial``, retrying with back-off: always after an attempt that
    brought bytes, and ``retries`` times in a row after attempts that brought none."""
    last_error: Exception | None = None
    attempts = stalled = 0
    while True:
        held = partial.size
        attempts += 1
        try:
            _attempt(fetch, partial)
            _refuse_if_not_archive(partial.path, fetch.dest)
            return
        except (*_RETRYABLE, TransientError, IncompleteArchive) as error:
            last_error = error
        stalled = 0 if partial.size > held else stalled + 1
        if stalled > retries:
            break
        sleep(backoff * 2 ** max(stalled - 1, 0))
    if partial.size:
        kept = (
            f"{partial.size} bytes ({partial.received} of them by this run) are kept in "
            f"{partial.path}; running again resumes from there (delete it to start afresh)."
        )
    else:
        partial.reset()  # an empty .part, opened for bytes that never came
        kept = "Nothing was received, so nothing was kept; running again starts afresh."
    raise DownloadError(
        f"{fetch.url}: download failed after {attempts} attempts, the last {stalled} bringing "
        f"no new byte (last error: {one_line(last_error)}). {kept}"
    )


def _attempt(fetch: _Fetch, partial: PartFile) -> None:
    """One request (and its redirects): append what the server sends to ``partial`` until it
    is complete.

    Raises:
        TransientError: a retryable answer or a body that ended early (also any of
            ``_RETRYABLE``); bytes already written stay in ``partial``.
        DownloadError: a declared size beyond the bound or the free space.
    """
    offset = partial.size
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with Heartbeat(fetch.name, fetch.heartbeat, fetch.timeout) as heartbeat:
        response = _get_following_redirects(fetch, headers, partial)
        with response:
            heartbeat.alive()
            total = expected_total(response, partial, offset, fetch.name)
            if total is not None and total == partial.size:
                return
            if total is not None:
                fetch.room.check_declared(total, partial.size)
            with tqdm(
                total=total,
                initial=partial.size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=fetch.name,
                disable=not fetch.progress,
            ) as bar:
                partial.append(body_blocks(response, fetch.chunk), bar, heartbeat, fetch.room)
    if total is not None and partial.size != total:
        raise TransientError(f"body stopped at byte {partial.size} of {total}")


def _get_following_redirects(
    fetch: _Fetch, headers: dict[str, str], partial: PartFile
) -> requests.Response:
    """GET ``fetch.url``, following redirects within http(s) and never from https to http.

    Raises:
        DownloadError: a redirect to another scheme, too many redirects, or a URL requests
            cannot use.
    """
    url = fetch.url
    for _ in range(MAX_REDIRECTS + 1):
        partial.requests += 1
        try:
            response = requests.get(
                url, headers=headers, stream=True, timeout=fetch.timeout, allow_redirects=False
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise DownloadError(f"{url}: not a usable URL ({one_line(exc)}); fix it") from None
        if not response.is_redirect:
            return response
        target = urljoin(url, response.headers["Location"])
        response.close()
        before, after = urlsplit(url).scheme.lower(), urlsplit(target).scheme.lower()
        if after not in ("http", "https") or (before, after) == ("https", "http"):
            raise DownloadError(
                f"{fetch.url}: the server redirects to {target}, a {after or 'scheme-less'} "
                f"URL; only http(s) redirects are followed, never from https to http. Download "
                "the file by hand and set its path in params.yaml"
            )
        url = target
    raise DownloadError(
        f"{fetch.url}: more than {MAX_REDIRECTS} redirects; check the URL in a browser"
    )

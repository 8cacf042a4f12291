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
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from tqdm import tqdm

from gianet import atomic
from gianet.errors import GianetError, one_line
from gianet.fetch.archives import (
    IncompleteArchive,
    NotAnArchive,
    archive_format,
    describe_start,
    verify_archive,
)
from gianet.fetch.checksums import BLOCK, is_sha256, read_recorded, record_sha256, sha256_of
from gianet.jobs.locks import output_lock

_RETRYABLE = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,  # raised while reading the body (timeout, cut connection)
)
_RETRYABLE_STATUS = {408, 429}
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<start>\d+)-\d+|\*)/(?P<total>\d+|\*)")
#: Redirects followed before giving up (browsers allow about 20).
MAX_REDIRECTS = 10
#: Seconds of silence from the server between two heartbeat lines.
HEARTBEAT_SECONDS = 10.0
#: The largest file a download accepts by default: SID's largest archive (Fuji, 52 GB)
#: with room to spare; a larger declared size is a wrong URL or a hostile server.
MAX_BYTES = 128 << 30
#: Free space left on the disk beyond a download (file system overhead, other writers).
SPACE_MARGIN = 64 << 20
#: Bytes between two checks of the free space while a body of undeclared size streams.
SPACE_CHECK_BYTES = 64 << 20
_LOCAL_FILE_FIX = (
    "file:// URLs are not downloaded: set the archive's path (sid.archives.<camera>.path in "
    "params.yaml) to the local file instead"
)


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
        """The digest given as ``expected_sha256``, else the one recorded for ``dest``.

        Raises:
            DownloadError: the pinned digest is not 64 hex digits, or the checksum file
                records another digest for ``dest`` than the pinned one.
        """
        recorded = read_recorded(checksum_file, dest.name)
        if not expected_sha256:
            return cls(dest.name, recorded, f"recorded in {checksum_file}", checksum_file)
        pinned = expected_sha256.lower()
        if not is_sha256(pinned):
            raise DownloadError(
                f"{dest.name}: the pinned sha256 {expected_sha256!r} is not 64 hex digits; "
                "fix it (sid.archives.<camera>.sha256 in params.yaml)"
            )
        if recorded and recorded != pinned:
            raise DownloadError(
                f"{dest.name}: the pinned sha256 {pinned} differs from {recorded} recorded in "
                f"{checksum_file}; remove that stale line from {checksum_file} (or fix the pin)"
            )
        return cls(dest.name, pinned, "pinned in params.yaml", checksum_file)

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
    """The ``.part`` file being written, with the sha256 of the bytes it holds so far, and
    what this run did for it (bytes received, HTTP requests made).

    Raises:
        gianet.atomic.LinkRefused: a symbolic link, FIFO or device sits at ``path``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest = hashlib.sha256()
        self.size = 0
        self.received = 0
        self.requests = 0
        try:
            descriptor = atomic.open_no_follow(path, os.O_RDONLY)
        except FileNotFoundError:
            return
        with os.fdopen(descriptor, "rb") as handle:
            while block := handle.read(BLOCK):
                self.digest.update(block)
                self.size += len(block)

    def reset(self) -> None:
        """Drop what was fetched: the next request starts from byte zero."""
        self.path.unlink(missing_ok=True)
        self.digest = hashlib.sha256()
        self.size = 0

    def append(
        self, blocks: Iterable[bytes], bar: tqdm, heartbeat: _Heartbeat, room: _Room
    ) -> None:
        """Append ``blocks`` to the file and the digest as they arrive (each is written
        before the next is awaited, so a timeout loses none)."""
        with atomic.append_file(self.path) as handle:
            for block in blocks:
                heartbeat.alive()
                handle.write(block)
                handle.flush()
                self.digest.update(block)
                self.size += len(block)
                self.received += len(block)
                bar.update(len(block))
                room.check_streaming(self.size, self.size - len(block))


@dataclass(frozen=True)
class _Room:
    """How much a download may write: at most ``max_bytes``, leaving :data:`SPACE_MARGIN`
    free in ``folder``."""

    url: str
    folder: Path
    max_bytes: int

    def check_declared(self, total: int, held: int) -> None:
        """Refuse a declared size of ``total`` bytes, of which ``held`` are already here,
        that exceeds the bound or the free space.

        Raises:
            DownloadError: naming the URL, the size and the fix.
        """
        if total > self.max_bytes:
            raise DownloadError(
                f"{self.url}: the server declares {_size(total)}, more than the "
                f"{_size(self.max_bytes)} any file gianet fetches can be; nothing more was "
                "written. Check the URL (or download the file by hand and set its path in "
                "params.yaml)"
            )
        self._check_free(total - held, f"the server declares {_size(total)}")

    def check_streaming(self, size: int, before: int) -> None:
        """While a body streams (``before`` bytes held, now ``size``): refuse once ``size``
        passes the bound, and check the free space every :data:`SPACE_CHECK_BYTES`."""
        if size > self.max_bytes:
            raise DownloadError(
                f"{self.url}: the server sent more than {_size(self.max_bytes)} without "
                "declaring a size, more than any file gianet fetches can be; stopped. Check "
                "the URL, and delete the .part it left"
            )
        if size // SPACE_CHECK_BYTES != before // SPACE_CHECK_BYTES:
            self._check_free(0, f"{_size(size)} received so far")

    def _check_free(self, needed: int, what: str) -> None:
        free = shutil.disk_usage(self.folder).free
        if needed + SPACE_MARGIN > free:
            raise DownloadError(
                f"{self.url}: {what}, but {self.folder} has {_size(free)} free (and "
                f"{_size(SPACE_MARGIN)} are kept free); free space or point the download "
                "elsewhere (paths.data in params.yaml) and run again; what was received is "
                "kept and resumed"
            )


def _size(count: int) -> str:
    """``count`` bytes, and in GiB when that is clearer."""
    return f"{count} bytes" if count < 1 << 30 else f"{count} bytes ({count / 2**30:.1f} GiB)"


class _Heartbeat:
    """Prints a line to stderr for every ``interval`` seconds the server stays silent.

    A progress bar shows bytes arriving; this shows a wait that would otherwise look hung
    (a slow connection, a server that never answers: up to the timeout per attempt).
    """

    def __init__(self, label: str, interval: float, timeout: float) -> None:
        self.label, self.interval, self.timeout = label, interval, timeout
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def alive(self) -> None:
        """Bytes arrived: the silence starts again from now."""
        self._last = time.monotonic()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            silent = time.monotonic() - self._last
            if silent >= self.interval:
                print(
                    f"{self.label}: waiting for the server, nothing received for {silent:.0f} s "
                    f"(gives up after {self.timeout:g} s, then retries)",
                    file=sys.stderr,
                    flush=True,
                )

    def __enter__(self) -> _Heartbeat:
        if self.interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


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
            _Checksum.for_dest(dest, expected_sha256, checksum_file),
            _Fetch(
                url, dest, timeout, chunk, progress, heartbeat, _Room(url, dest.parent, max_bytes)
            ),
            retries,
            backoff,
            sleep,
        )


def _download(
    url: str,
    dest: Path,
    checksum: _Checksum,
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
    partial = _PartFile(part)
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
    room: _Room

    @property
    def name(self) -> str:
        return self.dest.name


def _fetch(
    fetch: _Fetch,
    partial: _PartFile,
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
        except (*_RETRYABLE, _TransientError, IncompleteArchive) as error:
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
        kept = "Nothing was received, so nothing was kept; running again starts afresh."
    raise DownloadError(
        f"{fetch.url}: download failed after {attempts} attempts, the last {stalled} bringing "
        f"no new byte (last error: {one_line(last_error)}). {kept}"
    )


def _attempt(fetch: _Fetch, partial: _PartFile) -> None:
    """One request (and its redirects): append what the server sends to ``partial`` until it
    is complete.

    Raises:
        _TransientError: a retryable answer or a body that ended early (also any of
            ``_RETRYABLE``); bytes already written stay in ``partial``.
        DownloadError: a declared size beyond the bound or the free space.
    """
    offset = partial.size
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with _Heartbeat(fetch.name, fetch.heartbeat, fetch.timeout) as heartbeat:
        response = _get_following_redirects(fetch, headers, partial)
        with response:
            heartbeat.alive()
            total = _expected_total(response, partial, offset, fetch.name)
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
                partial.append(_body(response, fetch.chunk), bar, heartbeat, fetch.room)
    if total is not None and partial.size != total:
        raise _TransientError(f"body stopped at byte {partial.size} of {total}")


def _body(response: requests.Response, chunk: int) -> Iterator[bytes]:
    """The body's bytes as they arrive, at most ``chunk`` at a time.

    ``read1`` (urllib3 2.3 or later) returns what one read of the connection gives, so the
    bytes that came before a timeout have already been handed over and written; a plain
    ``read(chunk)`` (older urllib3) waits for ``chunk`` bytes and loses them on a timeout.
    """
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read
    while block := read(chunk, decode_content=True):
        yield block


def _get_following_redirects(
    fetch: _Fetch, headers: dict[str, str], partial: _PartFile
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


def _expected_total(
    response: requests.Response, partial: _PartFile, offset: int, name: str
) -> int | None:
    """Check the answer's status against the request; returns the file's full size if known.

    Resets ``partial`` when the server sends the whole file instead of the requested range.

    Raises:
        _TransientError: a retryable answer (5xx, 408, 429, a range that does not fit).
        DownloadError: any other refusal (404, 403, ...), or an HTML page for a file that is
            not one (an error page answered with 200).
    """
    status = response.status_code
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise _TransientError(f"HTTP {status} {response.reason}")
    if status in (200, 206) and _is_html_for_other(response, name):
        head = next(response.iter_content(256), b"")
        raise DownloadError(
            f"{response.url}: answered HTTP {status} with an HTML page instead of {name} "
            f"({describe_start(head)}); nothing was kept. Check the URL (open it in a browser)"
        )
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
        return int(length) if length is not None and length.isdigit() else None
    raise DownloadError(
        f"{response.url}: HTTP {status} {response.reason}. Check the URL (SID's archives "
        "were renamed, e.g. Sony.zip -> Sony2025.zip) and that it is reachable."
    )


def _is_html_for_other(response: requests.Response, name: str) -> bool:
    """Whether the answer is declared as HTML while the file wanted is neither a web page nor
    an archive (whose signature check catches error pages, whatever their declared type)."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    wanted_page = name.lower().endswith((".html", ".htm"))
    return kind in ("text/html", "application/xhtml+xml") and not (
        wanted_page or archive_format(name)
    )


def _content_range(response: requests.Response) -> tuple[int | None, int | None]:
    """(first byte, full size) from a ``Content-Range`` header; ``None`` where absent or ``*``."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        return None, None
    start, total = match["start"], match["total"]
    return (int(start) if start else None), (int(total) if total != "*" else None)

"""Streaming a download's body into its ``.part`` file, within bounds, with a heartbeat.

:class:`PartFile` holds the bytes received so far and their sha256; every block is written
before the next one is awaited (:func:`body_blocks` reads what each read of the connection
gives), so a timeout loses nothing already received. :class:`Room` bounds what a download may
write: a plausible largest size and the free space of the folder, checked against the size
the server declares before a byte is written and while a body of undeclared size streams.
:class:`Heartbeat` prints a line while the server is silent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from gianet import atomic
from gianet.errors import GianetError
from gianet.fetch.checksums import BLOCK

#: Seconds of silence from the server between two heartbeat lines.
HEARTBEAT_SECONDS = 10.0
#: The largest file a download accepts by default: SID's largest archive (Fuji, 52 GB)
#: with room to spare; a larger declared size is a wrong URL or a hostile server.
MAX_BYTES = 128 << 30
#: Free space left on the disk beyond a download (file system overhead, other writers).
SPACE_MARGIN = 64 << 20
#: Bytes between two checks of the free space while a body of undeclared size streams.
SPACE_CHECK_BYTES = 64 << 20


class DownloadError(GianetError, RuntimeError):
    """A download failed or its bytes do not match the expected sha256; says what to do."""


class PartFile:
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

    def append(self, blocks: Iterable[bytes], bar: tqdm, heartbeat: Heartbeat, room: Room) -> None:
        """Append ``blocks`` to the file and the digest as they arrive (each is written
        before the next is awaited, so a timeout loses none)."""
        with atomic.append_file(self.path) as handle, _naming(self.path):
            for block in blocks:
                heartbeat.alive()
                handle.write(block)
                handle.flush()
                self.digest.update(block)
                self.size += len(block)
                self.received += len(block)
                bar.update(len(block))
                room.check_streaming(self.size, self.size - len(block))


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Name ``path`` in a failed write's error (a write names no file: a full disk, EFBIG)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


@dataclass(frozen=True)
class Room:
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
                f"{self.url}: the server declares {size_text(total)}, more than the "
                f"{size_text(self.max_bytes)} any file gianet fetches can be; "
                f"{_kept(held)}. Check the URL (or download the file by hand and set its path "
                "in params.yaml)"
            )
        self._check_free(total - held, f"the server declares {size_text(total)}", held)

    def check_streaming(self, size: int, before: int) -> None:
        """While a body streams (``before`` bytes held, now ``size``): refuse once ``size``
        passes the bound, and check the free space every :data:`SPACE_CHECK_BYTES`."""
        if size > self.max_bytes:
            raise DownloadError(
                f"{self.url}: the server sent more than {size_text(self.max_bytes)} without "
                "declaring a size, more than any file gianet fetches can be; stopped. Check "
                "the URL, and delete the .part it left"
            )
        if size // SPACE_CHECK_BYTES != before // SPACE_CHECK_BYTES:
            self._check_free(0, f"{size_text(size)} received so far", size)

    def _check_free(self, needed: int, what: str, held: int) -> None:
        free = shutil.disk_usage(self.folder).free
        if needed + SPACE_MARGIN > free:
            raise DownloadError(
                f"{self.url}: {what}, but {self.folder} has {size_text(free)} free (and "
                f"{size_text(SPACE_MARGIN)} are kept free); {_kept(held)}. Free space, or point "
                "the download elsewhere (paths.data in params.yaml), and run again"
            )


def _kept(held: int) -> str:
    """What a refused download leaves, for its message."""
    return f"the {held} bytes received are kept and resumed" if held else "nothing was written"


def size_text(count: int) -> str:
    """``count`` bytes, and in GiB when that is clearer."""
    return f"{count} bytes" if count < 1 << 30 else f"{count} bytes ({count / 2**30:.1f} GiB)"


class Heartbeat:
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

    def __enter__(self) -> Heartbeat:
        if self.interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def body_blocks(response: requests.Response, chunk: int) -> Iterator[bytes]:
    """The body's bytes as they arrive, at most ``chunk`` at a time.

    ``read1`` (urllib3 2.3 or later) returns what one read of the connection gives, so the
    bytes that came before a timeout have already been handed over and written; a plain
    ``read(chunk)`` (older urllib3) waits for ``chunk`` bytes and loses them on a timeout.
    """
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read
    while block := read(chunk, decode_content=True):
        yield block

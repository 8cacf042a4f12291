"""download(): resume, retry and sha256 checks against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gianet.data.download import DownloadError, download

PAYLOAD = random.Random(0).randbytes(300_000)
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "Sony2025.zip"


@dataclass
class ServerState:
    """What the test server sends, how it misbehaves, and the Range header of each request."""

    payload: bytes
    drop: int = 0
    fail: int = 0
    ignore_range: bool = False
    ranges: list[str | None] = field(default_factory=list)


class RangeHandler(BaseHTTPRequestHandler):
    """Serves ``/Sony2025.zip`` with ``Range: bytes=N-`` support and scripted failures."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state: ServerState = self.server.state
        state.ranges.append(self.headers.get("Range"))
        if self.path != f"/{NAME}":
            return self._empty(404)
        if state.fail:
            state.fail -= 1
            return self._empty(503)
        size = len(state.payload)
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        start = int(match[1]) if match and not state.ignore_range else None
        if start is not None and start >= size:
            return self._empty(416, {"Content-Range": f"bytes */{size}"})
        body = state.payload[start or 0 :]
        self.send_response(200 if start is None else 206)
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.drop:
            state.drop -= 1
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return None
        self.wfile.write(body)
        return None

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerState, str]]:
    """A threaded server on 127.0.0.1 (never a proxy); yields its state and the file's URL."""
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.state = ServerState(PAYLOAD)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd.state, f"http://127.0.0.1:{httpd.server_address[1]}/{NAME}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def fetch(url: str, dest: Path, sleeps: list[float] | None = None, **options: object):
    """download() with small blocks, a short timeout, no bar and a recording sleep."""
    recorder = sleeps if sleeps is not None else []
    return download(
        url, dest, chunk=16_384, timeout=5, progress=False, sleep=recorder.append, **options
    )


@pytest.mark.parametrize("checksums", ["sid.sha256", "sid.json"])
def test_first_download_records_its_checksum(server, tmp_path: Path, checksums: str) -> None:
    state, url = server
    dest, checksum_file = tmp_path / "raw" / NAME, tmp_path / "params" / checksums

    result = fetch(url, dest, checksum_file=checksum_file)

    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_name(NAME + ".part").exists()
    assert (result.sha256, result.size, result.fetched) == (SHA256, len(PAYLOAD), len(PAYLOAD))
    assert result.recorded and result.requests == 1 and state.ranges == [None]
    text = checksum_file.read_text()
    recorded = json.loads(text) if checksums.endswith(".json") else text
    assert recorded == ({NAME: SHA256} if checksums.endswith(".json") else f"{SHA256}  {NAME}\n")


def test_recording_keeps_other_entries(server, tmp_path: Path) -> None:
    _, url = server
    checksum_file = tmp_path / "sid.sha256"
    checksum_file.write_text(f"{'a' * 64}  Fuji2025.zip\n")

    fetch(url, tmp_path / NAME, checksum_file=checksum_file)

    assert checksum_file.read_text() == f"{'a' * 64}  Fuji2025.zip\n{SHA256}  {NAME}\n"


def test_dropped_connection_is_resumed_with_a_range_request(server, tmp_path: Path) -> None:
    state, url = server
    state.drop = 1
    sleeps: list[float] = []

    result = fetch(url, tmp_path / NAME, sleeps, backoff=0.25, expected_sha256=SHA256)

    first, second = state.ranges
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", second)[1])
    assert first is None and 0 < resumed_at <= len(PAYLOAD) // 2  # a partial last block is lost
    assert (tmp_path / NAME).read_bytes() == PAYLOAD
    assert sleeps == [0.25]
    assert (result.sha256, result.fetched, result.requests) == (SHA256, len(PAYLOAD), 2)


def test_part_left_by_an_earlier_run_is_resumed_and_hashed_whole(server, tmp_path: Path) -> None:
    state, url = server
    (tmp_path / (NAME + ".part")).write_bytes(PAYLOAD[:1000])
    checksum_file = tmp_path / "sid.sha256"

    result = fetch(url, tmp_path / NAME, checksum_file=checksum_file)

    assert state.ranges == ["bytes=1000-"]
    assert (tmp_path / NAME).read_bytes() == PAYLOAD
    assert (result.sha256, result.fetched) == (SHA256, len(PAYLOAD) - 1000)
    assert checksum_file.read_text() == f"{SHA256}  {NAME}\n"


def test_server_ignoring_range_restarts_from_zero(server, tmp_path: Path) -> None:
    state, url = server
    state.ignore_range = True
    (tmp_path / (NAME + ".part")).write_bytes(b"stale bytes that must not survive")

    result = fetch(url, tmp_path / NAME, expected_sha256=SHA256)

    assert state.ranges == ["bytes=33-"]
    assert (tmp_path / NAME).read_bytes() == PAYLOAD and result.sha256 == SHA256


def test_503_is_retried_with_backoff(server, tmp_path: Path) -> None:
    state, url = server
    state.fail = 2
    sleeps: list[float] = []

    result = fetch(url, tmp_path / NAME, sleeps, backoff=0.5)

    assert sleeps == [0.5, 1.0] and result.requests == 3
    assert (tmp_path / NAME).read_bytes() == PAYLOAD


def test_wrong_checksum_leaves_nothing_at_dest(server, tmp_path: Path) -> None:
    _, url = server
    dest, wrong = tmp_path / NAME, "0" * 64

    with pytest.raises(DownloadError) as raised:
        fetch(url, dest, expected_sha256=wrong)

    message = str(raised.value)
    assert NAME in message and SHA256 in message and wrong in message
    assert "delete" in message and "update the checksum" in message
    assert not dest.exists()
    assert dest.with_name(NAME + ".part").read_bytes() == PAYLOAD


def test_kept_part_is_accepted_after_the_checksum_is_fixed(server, tmp_path: Path) -> None:
    state, url = server
    dest = tmp_path / NAME
    with pytest.raises(DownloadError):
        fetch(url, dest, expected_sha256="0" * 64)

    result = fetch(url, dest, expected_sha256=SHA256)

    assert state.ranges == [None, f"bytes={len(PAYLOAD)}-"]  # answered 416: already complete
    assert dest.read_bytes() == PAYLOAD and result.fetched == 0


def test_existing_verified_file_makes_no_request(server, tmp_path: Path) -> None:
    state, url = server
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.json"
    dest.write_bytes(PAYLOAD)
    checksum_file.write_text(json.dumps({NAME: SHA256}))

    result = fetch(url, dest, checksum_file=checksum_file)

    assert state.ranges == []
    assert result.sha256 == SHA256 and not result.recorded
    assert result.requests == result.fetched == 0


def test_existing_file_with_wrong_checksum_is_moved_aside(server, tmp_path: Path) -> None:
    state, url = server
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.sha256"
    dest.write_bytes(b"not the archive")
    checksum_file.write_text(f"{SHA256}  {NAME}\n")

    with pytest.raises(DownloadError, match="existing file's sha256"):
        fetch(url, dest, checksum_file=checksum_file)

    assert state.ranges == [] and not dest.exists()
    assert dest.with_name(NAME + ".part").read_bytes() == b"not the archive"


def test_exhausted_retries_say_what_was_kept(server, tmp_path: Path) -> None:
    state, url = server
    state.drop = 100
    sleeps: list[float] = []

    with pytest.raises(DownloadError) as raised:
        fetch(url, tmp_path / NAME, sleeps, retries=2, backoff=1.0)

    part = tmp_path / (NAME + ".part")
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD) and part.read_bytes() == PAYLOAD[:kept]
    assert sleeps == [1.0, 2.0] and len(state.ranges) == 3
    message = str(raised.value)
    assert "3 attempts" in message and f"{kept} bytes" in message and "resumes" in message
    assert not (tmp_path / NAME).exists()


def test_missing_file_is_not_retried(server, tmp_path: Path) -> None:
    state, url = server

    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(url.replace(NAME, "Sony.zip"), tmp_path / NAME)

    assert len(state.ranges) == 1 and not (tmp_path / NAME).exists()

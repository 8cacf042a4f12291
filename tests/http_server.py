"""A stand-in web server on 127.0.0.1 for the download tests, and how they call download().

:class:`RangeHandler` serves one file as an HTTP/1.1 server does (RFC 9110): ``200`` with a
``Content-Length``, or ``206 Partial Content`` with ``Content-Range: bytes first-last/size``
for a ``Range: bytes=N-`` request (section 14), ``416 Range Not Satisfiable`` with
``Content-Range: bytes */size`` for a range past the end (section 15.5.17), ``302`` with a
``Location`` to redirect, and a body delimited by closing the connection when it sends no
length (RFC 9112, section 6.3). :class:`ServerState` scripts how it misbehaves: 503s, bodies
cut short, ranges ignored, error pages, delays, stalls after some bytes (a server that goes
silent mid-body), and a ``Content-Length`` that is not the body's (a lying or hostile one).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import re
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gianet.cli import main
from gianet.fetch.download import download


def zip_payload(size: int = 300_000) -> bytes:
    """A real zip archive of about ``size`` random bytes (stored, so it stays that large)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr("Sony/short/00001_00_0.1s.ARW", random.Random(0).randbytes(size))
    return buffer.getvalue()


PAYLOAD = zip_payload()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "Sony2025.zip"
ERROR_PAGE = b"<!DOCTYPE html><html><body>Quota exceeded</body></html>"


@dataclass
class ServerState:
    """What the test server sends, how it misbehaves, and the Range header of each request."""

    payload: bytes
    drop: int = 0
    fail: int = 0
    ignore_range: bool = False
    no_length: bool = False  # answer without Content-Length, ending the body by closing
    html: bool = False  # send ERROR_PAGE as text/html with HTTP 200
    redirect: str | None = None  # answer 302 to this Location
    delay: float = 0.0  # seconds before answering
    fail_from: int = 0  # `fail` applies from this request on (0: the first)
    stalls: int = 0  # requests that send `stall_after` bytes, then go silent and close
    stall_after: int = 0
    stall_seconds: float = 1.0
    lies: int = 0  # requests whose Content-Length is `declared` instead of the body's
    declared: int = 0
    ranges: list[str | None] = field(default_factory=list)


class RangeHandler(BaseHTTPRequestHandler):
    """Serves ``/Sony2025.zip`` with ``Range: bytes=N-`` support and scripted failures."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state: ServerState = self.server.state
        state.ranges.append(self.headers.get("Range"))
        time.sleep(state.delay)
        if state.redirect and self.path != "/moved/" + NAME:
            return self._empty(302, {"Location": state.redirect})
        if self.path not in (f"/{NAME}", f"/moved/{NAME}"):
            return self._empty(404)
        if state.fail and len(state.ranges) > state.fail_from:
            state.fail -= 1
            return self._empty(503)
        if state.html:
            return self._body(200, ERROR_PAGE, {"Content-Type": "text/html"})
        size = len(state.payload)
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        start = int(match[1]) if match and not state.ignore_range else None
        if start is not None and start >= size:
            return self._empty(416, {"Content-Range": f"bytes */{size}"})
        body = state.payload[start or 0 :]
        headers = {"Content-Type": "application/zip"}
        if start is not None:
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        if state.stalls:  # some bytes, then silence longer than the client's timeout
            state.stalls -= 1
            self.close_connection = True
            self._head(200 if start is None else 206, len(body), headers)
            self._send(body[: state.stall_after])
            time.sleep(state.stall_seconds)
            return None
        if state.lies:  # a Content-Length that is not the body's
            state.lies -= 1
            self.close_connection = True
            self._head(200 if start is None else 206, state.declared, headers)
            self._send(body[: state.declared])
            return None
        if state.drop:
            state.drop -= 1
            body = body[: len(body) // 2] if state.no_length else body
            self.close_connection = True
            if not state.no_length:  # promise the whole body, send half
                self._head(200 if start is None else 206, len(body), headers)
                self.wfile.write(body[: len(body) // 2])
                return None
        self._body(200 if start is None else 206, body, headers)
        return None

    def _send(self, data: bytes) -> None:
        """Write ``data`` and flush; a client that hung up (as it should, refusing) is fine."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _head(self, status: int, length: int | None, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _body(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Send ``body``; without a length the connection's end marks the body's end."""
        state: ServerState = self.server.state
        if state.no_length:
            self.close_connection = True
        self._head(status, None if state.no_length else len(body), headers)
        self.wfile.write(body)

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


class LocalServer(ThreadingHTTPServer):
    """The test server; a client hanging up on a kept-alive connection (as a refusing
    download does) is normal, not an error to print."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerState, str]]:
    """A threaded server on 127.0.0.1 (never a proxy); yields its state and the file's URL."""
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    httpd = LocalServer(("127.0.0.1", 0), RangeHandler)
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
    options.setdefault("timeout", 5)
    return download(url, dest, chunk=16_384, progress=False, sleep=recorder.append, **options)


def sid_download(url: str, out: Path, checksums: Path, **runtime: object) -> int:
    """``gianet sid-download`` as the rule runs it; returns its exit status."""
    settings = json.dumps({"camera": "Sony", "url": url, "sha256": None})
    argv = ["sid-download", "--archive", str(out), "--checksums", str(checksums)]
    return main([*argv, "--settings", settings, "--runtime", runtime_json(**runtime)])


def runtime_json(**changes: object) -> str:
    """params.yaml's runtime section with ``changes``, as the rule passes it."""
    import yaml

    section = yaml.safe_load(Path("params.yaml").read_text())["runtime"]
    return json.dumps(section | {"progress": False} | changes)

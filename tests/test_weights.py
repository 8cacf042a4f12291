"""The perceptual metrics' weights: declared files, fetching against a local HTTP server,
checksums, the status file evaluation reads."""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import piq
import pytest
import torch
import torchvision

from gianet.evaluation.perceptual import LPIPSMetric
from gianet.fetch import weights
from gianet.fetch.download import DownloadError, download
from gianet.fetch.weights import (
    WEIGHTS,
    MissingWeights,
    PretrainedFile,
    fetch_for_metrics,
    fetch_weights,
    torch_home_of,
    weights_status,
    write_status,
)


def test_declared_weights_are_those_the_installed_packages_download() -> None:
    assert WEIGHTS["alexnet"].url == torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url
    assert WEIGHTS["vgg16"].url == torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    assert WEIGHTS["pieapp"].url == piq.PieAPP._weights_url
    for spec in WEIGHTS.values():
        assert spec.cache_path == f"hub/checkpoints/{spec.url.rsplit('/', 1)[1]}"
    for torchvision_file in ("alexnet", "vgg16"):
        name = Path(WEIGHTS[torchvision_file].cache_path).name
        assert torch.hub.HASH_REGEX.search(name)[1] == WEIGHTS[torchvision_file].sha256_prefix


class FileHandler(BaseHTTPRequestHandler):
    """Serves the server's ``files`` (URL path -> bytes) and counts requests."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.requests += 1
        body = self.server.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    """A threaded HTTP server on 127.0.0.1 (never through a proxy)."""
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FileHandler)
    httpd.files, httpd.requests = {}, 0
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def serve_weights(
    monkeypatch: pytest.MonkeyPatch, httpd: ThreadingHTTPServer, name: str, payload: bytes
) -> PretrainedFile:
    """Point ``WEIGHTS[name]`` at ``payload`` on the local server, keeping its cache path."""
    url_path = f"/{name}.pth"
    httpd.files[url_path] = payload
    spec = weights.WEIGHTS[name]
    local = PretrainedFile(
        url=f"http://127.0.0.1:{httpd.server_address[1]}{url_path}",
        cache_path=spec.cache_path,
        sha256_prefix=spec.sha256_prefix and hashlib.sha256(payload).hexdigest()[:8],
        used_by=spec.used_by,
    )
    monkeypatch.setitem(weights.WEIGHTS, name, local)
    return local


def test_fetch_downloads_missing_weights_and_records_their_digests(
    server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    payloads = {name: f"{name} weights".encode() * 1000 for name in WEIGHTS}
    specs = {name: serve_weights(monkeypatch, server, name, payloads[name]) for name in payloads}
    home, checksums = tmp_path / "torch", tmp_path / "weights.sha256"

    results = fetch_weights(home, checksum_file=checksums, progress=False)

    digests = {name: hashlib.sha256(data).hexdigest() for name, data in payloads.items()}
    assert specs["alexnet"].sha256_prefix == digests["alexnet"][:8]
    assert specs["vgg16"].sha256_prefix == digests["vgg16"][:8]
    for name, spec in specs.items():
        assert spec.path(home).read_bytes() == payloads[name]
        assert (results[name].sha256, results[name].recorded) == (digests[name], True)
    assert weights_status(home) == {name: spec.path(home) for name, spec in specs.items()}
    assert checksums.read_text() == "".join(
        f"{digests[name]}  {Path(specs[name].cache_path).name}\n"
        for name in sorted(specs, key=lambda name: Path(specs[name].cache_path).name)
    )

    again = fetch_weights(home, checksum_file=checksums, progress=False)

    assert server.requests == len(WEIGHTS)
    assert all(result.fetched == 0 and not result.recorded for result in again.values())


def test_fetch_refuses_a_file_that_does_not_match_its_published_prefix(
    server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = serve_weights(monkeypatch, server, "alexnet", b"genuine")
    server.files["/alexnet.pth"] = b"tampered"
    home, checksums = tmp_path / "torch", tmp_path / "weights.sha256"

    with pytest.raises(DownloadError, match="does not start with the published"):
        fetch_weights(home, ["alexnet"], checksum_file=checksums, progress=False)

    dest = spec.path(home)
    assert not dest.exists() and dest.with_name(dest.name + ".part").read_bytes() == b"tampered"
    assert not checksums.exists()
    with pytest.raises(MissingWeights):
        LPIPSMetric(home, "cpu", "alex")


def test_fetch_offline_says_where_to_put_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = PretrainedFile(f"http://127.0.0.1:{port}/PieAPPv0.1.pth", "hub/x.pth", None, "PieAPP")
    monkeypatch.setitem(weights.WEIGHTS, "pieapp", spec)
    monkeypatch.setattr(weights, "download", functools.partial(download, retries=0))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    with pytest.raises(DownloadError) as caught:
        fetch_weights(tmp_path, ["pieapp"], progress=False)

    message = str(caught.value)
    assert spec.url in message and f"copy it to {tmp_path / 'hub/x.pth'}" in message


def test_metrics_fetch_only_the_weights_they_need(
    server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in WEIGHTS:
        serve_weights(monkeypatch, server, name, f"{name} weights".encode())
    home = tmp_path / "torch"
    assert fetch_for_metrics(home, ["psnr", "ssim"]) == {}
    fetched = fetch_for_metrics(home, ["psnr", "lpips"])
    assert list(fetched) == ["alexnet"] and weights_status(home)["pieapp"] is None
    assert weights_status(home)["vgg16"] is None
    fetched = fetch_for_metrics(home, ["lpips", "pieapp"], lpips_backbone="vgg")
    assert list(fetched) == ["vgg16", "pieapp"]


def test_status_file_records_the_cache_and_locates_it(tmp_path: Path) -> None:
    status = tmp_path / "torch" / "status.json"
    assert write_status(status) == {"alexnet": None, "vgg16": None, "pieapp": None}
    present = WEIGHTS["pieapp"].path(tmp_path / "torch")
    present.parent.mkdir(parents=True)
    present.write_bytes(b"x")
    write_status(status)
    expected = {"alexnet": None, "vgg16": None, "pieapp": str(present)}
    assert json.loads(status.read_text()) == expected
    assert torch_home_of(status) == tmp_path / "torch"

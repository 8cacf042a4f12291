"""Real-SID stages end to end against a local HTTP server: download, unpack, split lists."""

import functools
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from gianet.cli import main
from gianet.data.lists import parse_list

REPO_PARAMS = str(Path(__file__).parents[1] / "params.yaml")


@pytest.fixture()
def served(tmp_path):
    """A SID-like Sony2025.zip served over HTTP on 127.0.0.1."""
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "Sony2025.zip", "w") as archive:
        archive.writestr("Sony/short/00001_00_0.1s.ARW", b"short exposure bytes")
        archive.writestr("Sony/long/00001_00_10s.ARW", b"long exposure bytes")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/Sony2025.zip"
    server.shutdown()


def override(tmp_path, url, **sid):
    import json

    archives = {"Sony": {"url": url, "path": None}, "Fuji": {"url": url, "path": None}}
    section = {"root": None, "archives": archives, "checksums": str(tmp_path / "sums.sha256")}
    return json.dumps(
        {"dataset": "sid", "paths": {"data": str(tmp_path / "data")}, "sid": section | sid}
    )


def test_download_then_unpack_puts_sid_layout_and_lists_in_place(served, tmp_path):
    settings = override(tmp_path, served)
    assert (
        main(["sid-download", "--camera", "Sony", "--params", REPO_PARAMS, "--override", settings])
        == 0
    )
    archive = tmp_path / "data" / "sid" / "archives" / "Sony.zip"
    assert zipfile.is_zipfile(archive)
    assert "Sony.zip" in (tmp_path / "sums.sha256").read_text()  # recorded on first download
    assert (
        main(["sid-unpack", "--camera", "Sony", "--params", REPO_PARAMS, "--override", settings])
        == 0
    )
    root = tmp_path / "data" / "sid"
    assert (root / "Sony" / "short" / "00001_00_0.1s.ARW").read_bytes() == b"short exposure bytes"
    assert len(parse_list(root / "Sony_train_list.txt")) == 1865


def test_wrong_recorded_checksum_stops_with_a_clear_message(served, tmp_path, capsys):
    (tmp_path / "sums.sha256").write_text(f"{'0' * 64}  Sony.zip\n")
    code = main(
        [
            "sid-download",
            "--camera",
            "Sony",
            "--params",
            REPO_PARAMS,
            "--override",
            override(tmp_path, served),
        ]
    )
    assert code == 2
    message = capsys.readouterr().err
    assert "Sony.zip" in message and "0" * 64 in message
    assert not (tmp_path / "data" / "sid" / "archives" / "Sony.zip").exists()


def test_an_unpacked_root_needs_no_archive_and_an_empty_one_is_explained(tmp_path, capsys):
    root = tmp_path / "SID"
    (root / "Sony" / "short").mkdir(parents=True)
    settings = override(tmp_path, "http://127.0.0.1:9/none.zip", root=str(root))
    assert (
        main(["sid-unpack", "--camera", "Sony", "--params", REPO_PARAMS, "--override", settings])
        == 0
    )
    assert (root / "Sony_test_list.txt").exists()
    assert (
        main(["sid-unpack", "--camera", "Fuji", "--params", REPO_PARAMS, "--override", settings])
        == 2
    )
    assert "no SID Fuji data here" in capsys.readouterr().err

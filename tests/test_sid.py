"""Real-SID stages end to end against a local HTTP server: download, unpack, split lists."""

import functools
import http.server
import threading
import zipfile

import pytest

from gianet.cli import main
from gianet.data.lists import parse_list
from gianet.paths import SPLITS


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


def lists(root, camera="Sony"):
    return ["--lists", *(str(root / f"{camera}_{split}_list.txt") for split in SPLITS)]


def test_download_then_unpack_puts_sid_layout_and_lists_in_place(served, tmp_path):
    archive = tmp_path / "data" / "sid" / "archives" / "Sony.zip"
    sums = tmp_path / "sums.sha256"
    download = ["sid-download", "--url", served, "--out", str(archive), "--checksums", str(sums)]
    assert main(download) == 0
    assert zipfile.is_zipfile(archive)
    assert "Sony.zip" in sums.read_text()  # recorded on first download
    root = tmp_path / "data" / "sid"
    assert main(["sid-unpack", "--camera", "Sony", *lists(root), "--archive", str(archive)]) == 0
    assert (root / "Sony" / "short" / "00001_00_0.1s.ARW").read_bytes() == b"short exposure bytes"
    assert len(parse_list(root / "Sony_train_list.txt")) == 1865


def test_wrong_recorded_checksum_stops_with_a_clear_message(served, tmp_path, capsys):
    (tmp_path / "sums.sha256").write_text(f"{'0' * 64}  Sony.zip\n")
    archive = tmp_path / "archives" / "Sony.zip"
    sums = str(tmp_path / "sums.sha256")
    code = main(["sid-download", "--url", served, "--out", str(archive), "--checksums", sums])
    assert code == 2
    message = capsys.readouterr().err
    assert "Sony.zip" in message and "0" * 64 in message
    assert not archive.exists()


def test_an_unpacked_root_needs_no_archive_and_an_empty_one_is_explained(tmp_path, capsys):
    root = tmp_path / "SID"
    (root / "Sony" / "short").mkdir(parents=True)
    # The rule passes `--archive` with no value when sid.root names the data.
    assert main(["sid-unpack", "--camera", "Sony", *lists(root), "--archive"]) == 0
    assert (root / "Sony_test_list.txt").exists()
    assert main(["sid-unpack", "--camera", "Fuji", *lists(root, "Fuji")]) == 2
    assert "no SID Fuji data here" in capsys.readouterr().err


def test_lists_must_be_the_camera_s_three_lists_in_one_folder(tmp_path, capsys):
    wrong = ["--lists", *(str(tmp_path / f"Fuji_{split}_list.txt") for split in SPLITS)]
    assert main(["sid-unpack", "--camera", "Sony", *wrong]) == 2
    assert "expected Sony_train_list.txt" in capsys.readouterr().err

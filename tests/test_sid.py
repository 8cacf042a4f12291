"""Real-SID stages end to end against a local HTTP server: download, unpack, split lists."""

import functools
import http.server
import json
import threading
import zipfile

import pytest

from gianet.cli import main
from gianet.data.sources import read_record
from gianet.fetch.sid import packaged_files
from gianet.paths import SPLITS
from tests.conftest import REPO, repo_params


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


RUNTIME = ["--params", str(REPO / "params.yaml")]


def lists(root, camera="Sony"):
    return ["--lists", *(str(root / f"{camera}_{split}_list.txt") for split in SPLITS)]


def unpack(root, camera="Sony", *archive: str) -> list[str]:
    """`gianet sid-unpack`'s command line (its settings from params.yaml)."""
    record = ["--record", str(root / f"{camera}_sources.tsv")]
    return ["sid-unpack", *lists(root, camera), *record, *archive, *RUNTIME, "--camera", camera]


def download(url: str, archive, sums) -> list[str]:
    """`gianet sid-download`'s command line, as its rule writes it."""
    settings = json.dumps({"camera": "Sony", "url": url, "sha256": None})
    runtime = repo_params().runtime.model_copy(update={"progress": False}).model_dump_json()
    return ["sid-download", "--archive", str(archive), "--checksums", str(sums),
            "--settings", settings, "--runtime", runtime]  # fmt: skip


def listed_sony_files(root) -> None:
    """Every raw SID's Sony lists name, as tiny stand-ins (sid.root must hold them)."""
    for name in packaged_files("Sony"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())


def test_download_then_unpack_puts_sid_layout_and_lists_in_place(served, tmp_path, capsys):
    archive = tmp_path / "data" / "sid" / "archives" / "Sony.zip"
    sums = tmp_path / "sums.sha256"
    assert main(download(served, archive, sums)) == 0
    assert zipfile.is_zipfile(archive)
    assert "Sony.zip" in sums.read_text()  # recorded on first download
    root = tmp_path / "data" / "sid"
    listed = list(root.glob("*"))
    assert main(unpack(root, "Sony", "--archive", str(archive))) == 2  # the archive is no SID
    assert "does not exist" in capsys.readouterr().err and list(root.glob("*")) != listed


def test_wrong_recorded_checksum_stops_with_a_clear_message(served, tmp_path, capsys):
    (tmp_path / "sums.sha256").write_text(f"{'0' * 64}  Sony.zip\n")
    archive = tmp_path / "archives" / "Sony.zip"
    sums = str(tmp_path / "sums.sha256")
    code = main(download(served, archive, sums))
    assert code == 2
    message = capsys.readouterr().err
    assert "Sony.zip" in message and "0" * 64 in message
    assert not archive.exists()


def test_an_unpacked_root_needs_no_archive_and_an_empty_one_is_explained(tmp_path, capsys):
    root = tmp_path / "SID"
    (root / "Sony" / "short").mkdir(parents=True)
    listed_sony_files(root)
    # The rule passes `--archive` with no value when sid.root names the data.
    assert main([*unpack(root, "Sony"), "--archive"]) == 0
    assert (root / "Sony_test_list.txt").exists()
    record = read_record(root / "Sony_sources.tsv")
    assert len(record) == len(packaged_files("Sony"))
    assert main(unpack(root, "Fuji")) == 2
    assert "no SID Fuji data here" in capsys.readouterr().err


def test_lists_must_be_the_camera_s_three_lists_in_one_folder(tmp_path, capsys):
    wrong = ["--lists", *(str(tmp_path / f"Fuji_{split}_list.txt") for split in SPLITS)]
    record = ["--record", str(tmp_path / "r.tsv"), *RUNTIME, "--camera", "Sony"]
    assert main(["sid-unpack", *wrong, *record]) == 2
    assert "expected Sony_train_list.txt" in capsys.readouterr().err

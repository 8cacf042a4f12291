"""download(): resume, retry, archive and sha256 checks against a local HTTP server on
127.0.0.1: error pages, bodies cut short without a length, redirects, pinned checksums,
timeouts and the heartbeat."""

from __future__ import annotations

import errno
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gianet import atomic
from gianet.cli import main
from gianet.fetch.download import DownloadError
from tests.http_server import (
    ERROR_PAGE,
    NAME,
    PAYLOAD,
    SHA256,
    ServerState,
    fetch,
    runtime_json,
    serve,
)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerState, str]]:
    with serve(monkeypatch) as served:
        yield served


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
    state.drop, state.fail, state.fail_from = 1, 100, 1  # half the file, then only 503s
    sleeps: list[float] = []

    with pytest.raises(DownloadError) as raised:
        fetch(url, tmp_path / NAME, sleeps, retries=2, backoff=1.0)

    part = tmp_path / (NAME + ".part")
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD) and part.read_bytes() == PAYLOAD[:kept]
    # Bytes came in the first attempt: the count of failures in a row starts after it.
    assert sleeps == [1.0, 1.0, 2.0] and len(state.ranges) == 4
    message = str(raised.value)
    assert "after 4 attempts, the last 3 bringing no new byte" in message
    assert f"{kept} bytes" in message and "resumes" in message
    assert not (tmp_path / NAME).exists()


def test_missing_file_is_not_retried(server, tmp_path: Path) -> None:
    state, url = server

    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(url.replace(NAME, "Sony.zip"), tmp_path / NAME)

    assert len(state.ranges) == 1 and not (tmp_path / NAME).exists()


# A response is accepted as the archive only once it is verified as one.


def test_an_error_page_answered_with_200_is_refused_and_not_recorded(
    server, tmp_path: Path
) -> None:
    state, url = server
    state.html = True
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.sha256"

    with pytest.raises(
        DownloadError, match="is not a zip archive: it starts like an HTML"
    ) as raised:
        fetch(url, dest, checksum_file=checksum_file)

    assert "check the URL" in str(raised.value) and "\n" not in str(raised.value)
    assert not dest.exists() and not checksum_file.exists()
    assert not dest.with_name(NAME + ".part").exists()
    assert dest.with_name(NAME + ".rejected").read_bytes() == ERROR_PAGE
    state.html = False  # the real archive is then accepted and recorded
    assert fetch(url, dest, checksum_file=checksum_file).recorded
    assert checksum_file.read_text() == f"{SHA256}  {NAME}\n"


def test_an_html_answer_for_a_file_that_is_no_archive_is_refused(server, tmp_path: Path) -> None:
    state, url = server
    state.html = True
    dest = tmp_path / "weights.pth"

    with pytest.raises(DownloadError, match="with an HTML page instead of weights.pth"):
        fetch(url, dest, checksum_file=tmp_path / "sums.sha256")

    assert list(tmp_path.iterdir()) == []


def test_a_body_cut_short_without_a_length_is_resumed(server, tmp_path: Path) -> None:
    state, url = server
    state.no_length, state.drop = True, 1
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.sha256"

    result = fetch(url, dest, checksum_file=checksum_file)

    assert state.ranges == [None, f"bytes={len(PAYLOAD) // 2}-"]
    assert dest.read_bytes() == PAYLOAD and result.sha256 == SHA256
    assert checksum_file.read_text() == f"{SHA256}  {NAME}\n"


def test_a_body_always_cut_short_is_never_recorded(server, tmp_path: Path) -> None:
    state, url = server
    state.no_length, state.ignore_range, state.drop = True, True, 100
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.sha256"

    with pytest.raises(DownloadError, match="incomplete or damaged archive.*central directory"):
        fetch(url, dest, checksum_file=checksum_file, retries=2)

    assert not dest.exists() and not checksum_file.exists()
    assert dest.with_name(NAME + ".part").read_bytes() == PAYLOAD[: len(PAYLOAD) // 2]


def test_redirects_are_followed_within_http(server, tmp_path: Path) -> None:
    state, url = server
    state.redirect = f"/moved/{NAME}"

    result = fetch(url, tmp_path / NAME)

    assert result.requests == 2 and (tmp_path / NAME).read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://127.0.0.1/Sony2025.zip", "redirects to ftp://127.0.0.1/Sony2025.zip, a ftp URL"),
        ("file:///etc/passwd", "redirects to file:///etc/passwd, a file URL"),
        (f"/{NAME}", "more than 10 redirects"),
    ],
)
def test_redirects_elsewhere_are_refused_in_one_line(
    server, tmp_path: Path, location: str, message: str
) -> None:
    state, url = server
    state.redirect = location

    with pytest.raises(DownloadError, match=message) as raised:
        fetch(url, tmp_path / NAME)

    assert "\n" not in str(raised.value) and list(tmp_path.iterdir()) == []


def test_file_urls_are_refused_with_the_fix(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "Sony.zip"
    archive.write_bytes(PAYLOAD)
    out = tmp_path / "out" / NAME

    code = main(download_args(archive.as_uri(), out, "s", runtime_json()))

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "Traceback" not in error
    assert "file:// URLs are not downloaded" in error and "sid.archives.<camera>.path" in error
    assert not out.parent.exists()


def test_a_pinned_checksum_is_checked_and_must_agree_with_the_recorded_one(
    server, tmp_path: Path
) -> None:
    _, url = server
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.sha256"

    with pytest.raises(DownloadError, match="pinned in params.yaml"):
        fetch(url, dest, expected_sha256="1" * 64, checksum_file=checksum_file)
    assert not dest.exists() and not checksum_file.exists()

    assert fetch(url, dest, expected_sha256=SHA256.upper(), checksum_file=checksum_file).recorded
    checksum_file.write_text(f"{'2' * 64}  {NAME}\n")
    with pytest.raises(DownloadError, match="remove that stale line"):
        fetch(url, dest, expected_sha256=SHA256, checksum_file=checksum_file)
    with pytest.raises(DownloadError, match="is not 64 hex digits"):
        fetch(url, dest, expected_sha256="abc")


def test_a_silent_server_shows_a_heartbeat(server, tmp_path: Path, capsys) -> None:
    state, url = server
    state.delay = 0.7

    fetch(url, tmp_path / NAME, heartbeat=0.2)

    assert "Sony2025.zip: waiting for the server, nothing received for" in capsys.readouterr().err


def test_timeout_and_retries_come_from_the_runtime_settings(server, tmp_path: Path, capsys) -> None:
    state, url = server
    state.delay = 1.5
    runtime = runtime_json(download_timeout=0.3, download_retries=1)
    out = tmp_path / NAME

    start = time.monotonic()
    code = main(download_args(url, str(out), "s.sha256", runtime))

    error = capsys.readouterr().err
    assert code == 2 and time.monotonic() - start < 5
    assert "download failed after 2 attempts" in error and "timed out" in error
    assert len(state.ranges) == 2


def download_args(url: str, out, checksums, runtime: str) -> list[str]:
    """`gianet sid-download`'s command line, as the sid_download rule writes it."""
    settings = json.dumps({"camera": "Sony", "url": url, "sha256": None})
    return ["sid-download", "--archive", str(out), "--checksums", str(checksums),
            "--settings", settings, "--runtime", runtime]  # fmt: skip


def test_a_malformed_checksum_file_is_one_line_with_the_fix(server, tmp_path: Path, capsys) -> None:
    _, url = server
    sums = tmp_path / "sid.sha256"
    sums.write_text("not-a-digest\n")

    code = main(download_args(url, str(tmp_path / NAME), str(sums), runtime_json()))

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "line 1 is not '<64-digit sha256>  <file name>'" in error and "delete the" in error


def test_a_refused_final_rename_keeps_the_complete_part(
    server, tmp_path: Path, monkeypatch
) -> None:
    state, url = server
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.sha256"
    dest_replace = atomic.os.replace

    def refuse_dest(source, target):
        if Path(target) == dest:
            raise OSError(errno.EROFS, "Read-only file system", str(target))
        return dest_replace(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(atomic.os, "replace", refuse_dest)
        with pytest.raises(OSError):
            fetch(url, dest, checksum_file=checksum_file)

    assert not dest.exists() and dest.with_name(NAME + ".part").read_bytes() == PAYLOAD
    result = fetch(url, dest, checksum_file=checksum_file)  # a rerun renames the kept bytes
    assert result.fetched == 0 and dest.read_bytes() == PAYLOAD
    assert state.ranges == [None, f"bytes={len(PAYLOAD)}-"]


def test_an_existing_error_page_at_dest_is_moved_aside_not_recorded(tmp_path: Path) -> None:
    dest, checksum_file = tmp_path / NAME, tmp_path / "sid.sha256"
    dest.write_bytes(ERROR_PAGE)  # left by an older run that trusted it

    with pytest.raises(DownloadError, match="is not a zip archive"):
        fetch("http://127.0.0.1:9/never-asked.zip", dest, checksum_file=checksum_file)

    assert not dest.exists() and not checksum_file.exists()
    assert dest.with_name(NAME + ".rejected").read_bytes() == ERROR_PAGE

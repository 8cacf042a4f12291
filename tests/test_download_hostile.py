"""download() against hostile servers and hostile files: a server that stalls after some
bytes or lies about the size or declares an absurd one, a link or FIFO planted at the
``.part``, two downloads of one file at once, and the messages when nothing was kept."""

from __future__ import annotations

import os
import resource
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gianet.cli import main
from gianet.fetch import stream as stream_module
from gianet.fetch.download import DownloadError
from gianet.jobs.locks import OutputBusy
from tests.http_server import (
    NAME,
    PAYLOAD,
    SHA256,
    ServerState,
    fetch,
    serve,
    sid_download,
    zip_payload,
)
from tests.lock_holder import hold_lock


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerState, str]]:
    with serve(monkeypatch) as served:
        yield served


def test_a_failure_with_nothing_received_promises_no_part(server, tmp_path: Path, capsys) -> None:
    state, url = server
    state.fail = 100

    code = sid_download(url, tmp_path / "a" / NAME, tmp_path / "s.sha256", download_retries=1)

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "HTTP 503" in error
    assert "Nothing was received, so nothing was kept; running again starts afresh" in error
    assert ".part" not in error and not (tmp_path / "a").exists()


# Servers that stall, lie about the size or declare an absurd one.


def test_bytes_received_before_a_stall_are_kept_and_resumed(server, tmp_path: Path) -> None:
    state, url = server
    state.stalls, state.stall_after, state.stall_seconds = 2, 500, 1.0

    result = fetch(url, tmp_path / NAME, timeout=0.3, expected_sha256=SHA256)

    assert state.ranges == [None, "bytes=500-", "bytes=1000-"]
    assert (tmp_path / NAME).read_bytes() == PAYLOAD and result.requests == 3


def test_a_server_that_always_stalls_completes_while_it_brings_bytes(server, tmp_path) -> None:
    state, url = server
    state.payload = zip_payload(1500)
    state.stalls, state.stall_after, state.stall_seconds = 100, 300, 0.6
    sleeps: list[float] = []

    result = fetch(url, tmp_path / NAME, sleeps, timeout=0.2, retries=1, backoff=0.5)

    attempts = -(-len(state.payload) // 300)
    assert result.requests == attempts and sleeps == [0.5] * (attempts - 1)
    assert (tmp_path / NAME).read_bytes() == state.payload


@pytest.mark.parametrize("declared", [1000, len(PAYLOAD) + 5000])
def test_a_lying_content_length_is_resumed_to_the_real_file(server, tmp_path, declared) -> None:
    state, url = server
    state.lies, state.declared = 1, declared

    result = fetch(url, tmp_path / NAME, checksum_file=tmp_path / "s.sha256")

    assert state.ranges[1] == f"bytes={min(declared, len(PAYLOAD))}-"
    assert (tmp_path / NAME).read_bytes() == PAYLOAD and result.sha256 == SHA256


def test_a_huge_declared_size_is_refused_before_writing(server, tmp_path: Path, capsys) -> None:
    state, url = server
    state.lies, state.declared = 100, 10**15

    code = sid_download(url, tmp_path / "a" / NAME, tmp_path / "s.sha256")

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and len(state.ranges) == 1
    assert url in error and "declares 1000000000000000 bytes" in error and "Check the URL" in error
    assert not (tmp_path / "a").exists()


def test_a_declared_size_beyond_the_free_space_is_refused(server, tmp_path, monkeypatch) -> None:
    _, url = server
    free = len(PAYLOAD) + stream_module.SPACE_MARGIN - 1
    usage = shutil.disk_usage(tmp_path)._replace(free=free)
    monkeypatch.setattr(stream_module.shutil, "disk_usage", lambda folder: usage)

    with pytest.raises(DownloadError) as raised:
        fetch(url, tmp_path / NAME)

    message = str(raised.value)
    assert (
        f"declares {len(PAYLOAD)} bytes" in message
        and f"{tmp_path} has {free} bytes free" in message
    )
    assert "nothing was written. Free space" in message
    assert not (tmp_path / (NAME + ".part")).exists()


def test_an_undeclared_body_is_stopped_at_the_bound(server, tmp_path: Path) -> None:
    state, url = server
    state.no_length = True

    with pytest.raises(DownloadError, match="sent more than 100000 bytes without declaring"):
        fetch(url, tmp_path / NAME, max_bytes=100_000)

    assert (tmp_path / (NAME + ".part")).stat().st_size <= 100_000 + 16_384


# The .part is the download's own: never written through a link, never by two runs.


@pytest.mark.parametrize("kind", ["link", "dangling", "fifo"])
def test_a_link_or_fifo_at_the_part_is_refused(server, tmp_path: Path, capsys, kind) -> None:
    state, url = server
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    part = tmp_path / "a" / (NAME + ".part")
    part.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(part)
    else:
        part.symlink_to(victim if kind == "link" else tmp_path / "absent")

    code = sid_download(url, part.parent / NAME, tmp_path / "s.sha256")

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and f"{part}: is a" in error
    assert "never through a link" in error and "Remove it" in error
    assert victim.read_text() == "keep me" and not (tmp_path / "absent").exists()
    assert state.ranges == [] and not (part.parent / NAME).exists()


def test_a_second_download_of_the_same_file_is_refused(server, tmp_path: Path) -> None:
    _, url = server
    dest = tmp_path / NAME
    busy = "another run is making it: pid {} on"
    with hold_lock(dest) as holder, pytest.raises(OutputBusy, match=busy.format(holder.pid)):
        fetch(url, dest)
    assert not dest.exists() and not dest.with_name(NAME + ".part").exists()
    assert fetch(url, dest).sha256 == SHA256  # once the holder is gone


def test_sid_download_help_names_the_local_archive_setting(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["sid-download", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "http(s) URL" in text and "sid.archives.<camera>.path" in text and "file)" not in text


def test_a_file_size_limit_is_one_line_and_keeps_what_fits(server, tmp_path, capsys) -> None:
    _, url = server
    out = tmp_path / "a" / NAME
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        code = sid_download(url, out, tmp_path / "s.sha256")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "Traceback" not in error
    assert f"{out}.part: file too large" in error and "ulimit -f" in error
    assert out.with_name(NAME + ".part").read_bytes() == PAYLOAD[:100_000]
    assert sid_download(url, out, tmp_path / "s.sha256") == 0  # the rerun resumes
    assert out.read_bytes() == PAYLOAD


def test_a_server_silent_from_the_first_byte_leaves_nothing(server, tmp_path: Path) -> None:
    state, url = server
    state.stalls, state.stall_after, state.stall_seconds = 100, 0, 0.5

    with pytest.raises(DownloadError, match="Nothing was received, so nothing was kept"):
        fetch(url, tmp_path / "a" / NAME, timeout=0.2, retries=1, backoff=0.01)

    assert len(state.ranges) == 2 and not (tmp_path / "a").exists()

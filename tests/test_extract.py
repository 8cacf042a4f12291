"""safe_extract(): SID-layout zips extract; unsafe, truncated or corrupt archives leave nothing."""

from __future__ import annotations

import errno
import io
import json
import random
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from gianet.atomic import default_mode
from gianet.fetch import extract
from gianet.fetch.extract import MARKER, ExtractError, safe_extract

_RNG = random.Random(0)
SID_FILES = {
    "Sony/short/00001_00_0.1s.ARW": _RNG.randbytes(40_000),
    "Sony/short/10003_00_0.04s.ARW": _RNG.randbytes(30_000),
    "Sony/long/00001_00_10s.ARW": _RNG.randbytes(50_000),
}


def write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip with folder entries, as SID's archives have, then ``members`` in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", method) as bundle:
        for folder in ("Sony/", "Sony/short/", "Sony/long/"):
            bundle.writestr(folder, b"")
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def write_tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    """A tar (gzipped when ``path`` ends in .gz) of ``members``; files take ``data[name]``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz" if path.suffix == ".gz" else "w") as bundle:
        for info in members:
            payload = data.get(info.name, b"")
            info.size = len(payload) if info.isfile() else 0
            bundle.addfile(info, io.BytesIO(payload) if info.isfile() else None)
    return path


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def all_paths(root: Path) -> set[Path]:
    return set(root.rglob("*")) | set(root.rglob(".*"))


def test_sid_zip_extracts_with_its_layout_and_a_marker(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "archives" / "Sony2025.zip", SID_FILES)
    target = tmp_path / "sid"

    files = safe_extract(archive, target, progress=False)

    assert files == sorted(target / name for name in SID_FILES)
    for name, data in SID_FILES.items():
        assert (target / name).read_bytes() == data
    marker = json.loads((target / MARKER).read_text())
    assert marker["archive"] == "Sony2025.zip" and marker["size"] == archive.stat().st_size
    assert marker["members"] == 6  # three folders and three files
    assert sorted(path.name for path in tmp_path.iterdir()) == ["archives", "sid"]


def test_members_prefix_selects_and_strips_a_folder(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES | {"README.txt": b"hello"})

    files = safe_extract(archive, tmp_path / "Sony", members_prefix="Sony", progress=False)

    assert [path.relative_to(tmp_path / "Sony").as_posix() for path in files] == [
        "long/00001_00_10s.ARW",
        "short/00001_00_0.1s.ARW",
        "short/10003_00_0.04s.ARW",
    ]
    assert (tmp_path / "Sony" / "long" / "00001_00_10s.ARW").read_bytes() == SID_FILES[
        "Sony/long/00001_00_10s.ARW"
    ]
    assert not (tmp_path / "Sony" / "README.txt").exists()


def test_prefix_without_files_is_an_error(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)

    with pytest.raises(ExtractError, match="no files under 'Fuji'"):
        safe_extract(archive, tmp_path / "Fuji", members_prefix="Fuji", progress=False)

    assert not (tmp_path / "Fuji").exists()


def test_tar_gz_extracts(tmp_path: Path) -> None:
    members = [tar_member("Sony", tarfile.DIRTYPE)] + [tar_member(name) for name in SID_FILES]
    archive = write_tar(tmp_path / "Sony.tar.gz", members, SID_FILES)

    files = safe_extract(archive, tmp_path / "sid", progress=False)

    assert [path.read_bytes() for path in files] == [SID_FILES[name] for name in sorted(SID_FILES)]


def test_completed_extraction_is_skipped(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    first = safe_extract(archive, tmp_path / "sid", progress=False)
    first[0].write_bytes(b"edited after extraction")

    again = safe_extract(archive, tmp_path / "sid", progress=False)

    assert again == first and first[0].read_bytes() == b"edited after extraction"


def test_stale_or_incomplete_extraction_is_redone(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    target = tmp_path / "sid"
    first = safe_extract(archive, target, progress=False)
    first[0].unlink()
    first[1].write_bytes(b"edited")
    interrupted = tmp_path / ".sid.partial-crashed"
    (interrupted / "Sony").mkdir(parents=True)

    again = safe_extract(archive, target, progress=False)

    assert again == first and first[0].read_bytes() == SID_FILES["Sony/long/00001_00_10s.ARW"]
    assert first[1].read_bytes() == SID_FILES["Sony/short/00001_00_0.1s.ARW"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Sony2025.zip", "sid"]


def test_changed_archive_is_extracted_again(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    safe_extract(archive, tmp_path / "sid", progress=False)
    write_zip(archive, {"Sony/short/00001_00_0.1s.ARW": b"new version"})

    files = safe_extract(archive, tmp_path / "sid", progress=False)

    assert files == [tmp_path / "sid" / "Sony/short/00001_00_0.1s.ARW"]
    assert files[0].read_bytes() == b"new version"
    assert not (tmp_path / "sid" / "Sony/long/00001_00_10s.ARW").exists()


def test_unmarked_target_with_files_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    (tmp_path / "sid").mkdir()
    (tmp_path / "sid" / "mine.txt").write_text("user data")

    with pytest.raises(ExtractError, match="no .extracted.json"):
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert [path.name for path in (tmp_path / "sid").iterdir()] == ["mine.txt"]


def _zip_symlink(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("Sony/short/00001_00_0.1s.ARW", b"fine")
        link = zipfile.ZipInfo("Sony/link")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(link, "/etc/passwd")
    return path


UNSAFE = {
    "parent": (
        lambda path: write_zip(path.with_suffix(".zip"), {"a.txt": b"ok", "../evil.txt": b"x"}),
        "../evil.txt",
        "'..'",
    ),
    "backslash-parent": (
        lambda path: write_zip(path.with_suffix(".zip"), {"a.txt": b"ok", "..\\evil.txt": b"x"}),
        "..\\\\evil.txt",
        "'..'",
    ),
    "absolute": (
        lambda path: write_zip(path.with_suffix(".zip"), {"a.txt": b"ok", "/abs.txt": b"x"}),
        "/abs.txt",
        "absolute",
    ),
    "drive": (
        lambda path: write_zip(path.with_suffix(".zip"), {"a.txt": b"ok", "C:/x.txt": b"x"}),
        "C:/x.txt",
        "drive letter",
    ),
    "zip-symlink": (lambda path: _zip_symlink(path.with_suffix(".zip")), "Sony/link", "symbolic"),
    "tar-symlink": (
        lambda path: write_tar(
            path.with_suffix(".tar"),
            [tar_member("a.txt"), tar_member("link", tarfile.SYMTYPE, "/etc")],
            {"a.txt": b"ok"},
        ),
        "link",
        "symbolic link to '/etc'",
    ),
    "tar-hardlink": (
        lambda path: write_tar(
            path.with_suffix(".tar"),
            [tar_member("a.txt"), tar_member("hard", tarfile.LNKTYPE, "a.txt")],
            {"a.txt": b"ok"},
        ),
        "hard",
        "hard link",
    ),
    "tar-device": (
        lambda path: write_tar(
            path.with_suffix(".tar"), [tar_member("a.txt"), tar_member("dev", tarfile.CHRTYPE)], {}
        ),
        "dev",
        "device",
    ),
}


@pytest.mark.parametrize("case", UNSAFE)
def test_unsafe_member_refuses_the_whole_archive(tmp_path: Path, case: str) -> None:
    build, member, reason = UNSAFE[case]
    archive = build(tmp_path / "archives" / "bad")
    work = tmp_path / "work"

    with pytest.raises(ExtractError, match=reason) as raised:
        safe_extract(archive, work / "sid", progress=False)

    assert archive.name in str(raised.value) and f"'{member}'" in str(raised.value)
    assert not work.exists()
    assert all_paths(tmp_path) == {archive.parent, archive}


def test_truncated_zip_leaves_no_target(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(ExtractError, match="truncated or corrupt") as raised:
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert "Sony2025.zip" in str(raised.value)
    assert all_paths(tmp_path) == {archive}


def test_crc_error_midway_removes_what_was_written(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES, zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    last = SID_FILES["Sony/long/00001_00_10s.ARW"]
    data[data.index(last) + 100] ^= 0xFF
    archive.write_bytes(bytes(data))

    with pytest.raises(ExtractError, match="truncated or corrupt.*CRC"):
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert all_paths(tmp_path) == {archive}


def test_truncated_tar_gz_leaves_no_target(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "Sony.tar.gz", [tar_member(n) for n in SID_FILES], SID_FILES)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(ExtractError, match="truncated or corrupt"):
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert all_paths(tmp_path) == {archive}


# Nothing that extraction did not create is ever deleted.


def test_a_users_file_at_the_target_is_kept_and_reported(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    (tmp_path / "sid").write_text("my notes")

    with pytest.raises(ExtractError, match="is a file, not a folder made by an earlier") as raised:
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert "move it away" in str(raised.value) and "\n" not in str(raised.value)
    assert (tmp_path / "sid").read_text() == "my notes"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Sony2025.zip", "sid"]


def test_files_added_inside_an_earlier_extraction_are_kept_and_named(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    target = tmp_path / "sid"
    safe_extract(archive, target, progress=False)
    (target / "Sony" / "short" / "mine.ARW").write_bytes(b"the user's own raw")
    write_zip(archive, {"Sony/short/00001_00_0.1s.ARW": b"new version"})  # forces re-extraction

    with pytest.raises(ExtractError, match=r"did not write \(Sony/short/mine.ARW\)"):
        safe_extract(archive, target, progress=False)

    assert (target / "Sony" / "short" / "mine.ARW").read_bytes() == b"the user's own raw"
    assert (target / "Sony/long/00001_00_10s.ARW").exists()  # the old extraction is untouched
    (target / "Sony" / "short" / "mine.ARW").rename(tmp_path / "mine.ARW")
    files = safe_extract(archive, target, progress=False)
    assert [path.read_bytes() for path in files] == [b"new version"]


def test_an_empty_archive_folder_is_recognised_as_made_by_the_extraction(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", {**SID_FILES, "Sony/empty/": b""})
    target = tmp_path / "sid"
    safe_extract(archive, target, progress=False)
    write_zip(archive, {"Sony/short/00001_00_0.1s.ARW": b"new version"})

    safe_extract(archive, target, progress=False)

    assert not (target / "Sony" / "empty").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "not JSON"),
        (b'{"files": "all"}', "not the record gianet writes"),
        (b'{"files": ["../../etc/passwd"]}', "lists '../../etc/passwd'"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_a_damaged_marker_stops_with_the_fix_and_deletes_nothing(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)
    target = tmp_path / "sid"
    safe_extract(archive, target, progress=False)
    (target / MARKER).write_bytes(content)
    before = all_paths(tmp_path)

    with pytest.raises(ExtractError, match=f"extraction marker is damaged: {problem}") as raised:
        safe_extract(archive, target, progress=False)

    assert "delete that folder and run again" in str(raised.value)
    assert all_paths(tmp_path) == before


# Members that cannot be written as stored are refused before anything is written.


def test_duplicate_members_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "Sony2025.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("Sony/short/00001_00_0.1s.ARW", b"first")
        bundle.writestr("Sony/short/00001_00_0.1s.ARW", b"second")

    with pytest.raises(ExtractError, match="is stored twice"):
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert all_paths(tmp_path) == {archive}


def test_a_member_that_is_both_a_file_and_a_folder_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", {"Sony/short": b"file", "Sony/short/x": b"y"})

    with pytest.raises(ExtractError, match="'Sony/short' is a file, and '.*' makes it a folder"):
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert all_paths(tmp_path) == {archive}


def test_an_over_long_member_name_is_one_clear_error(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", {"Sony/" + "x" * 300 + ".ARW": b"raw"})

    with pytest.raises(ExtractError, match="longer than this file system allows"):
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert all_paths(tmp_path) == {archive}


def test_an_archive_larger_than_the_free_space_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = write_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(20 << 20)})  # 20 MiB of zeros
    assert archive.stat().st_size < 100_000
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=70 << 20))

    with pytest.raises(ExtractError, match=r"add up to 0.02 GiB \(\d+ times the archive's size"):
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert all_paths(tmp_path) == {archive}


def test_a_full_disk_during_extraction_leaves_no_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)

    class FullDisk(io.FileIO):
        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device", self.name)

    monkeypatch.setattr(extract, "open", lambda path, mode: FullDisk(path, mode), raising=False)

    with pytest.raises(ExtractError, match="the disk filled up while extracting") as raised:
        safe_extract(archive, tmp_path / "sid", progress=False)

    assert "Free space" in str(raised.value) and "\n" not in str(raised.value)
    assert all_paths(tmp_path) == {archive}


def test_extracted_folders_have_the_usual_permissions(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "Sony2025.zip", SID_FILES)

    files = safe_extract(archive, tmp_path / "sid", progress=False)

    usual = default_mode(folder=True)
    assert usual != 0o700
    assert stat.S_IMODE((tmp_path / "sid").stat().st_mode) == usual
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == usual
    assert stat.S_IMODE(files[0].stat().st_mode) == default_mode()

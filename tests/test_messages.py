"""Messages name the real cause and the fix: a full disk while packing, memory running out
where it ran out, an extraction stopped by a file-size limit, an interrupted evaluation, and
every operating-system error a write can raise."""

from __future__ import annotations

import errno
import io
import os
import signal
import time
import zipfile
from pathlib import Path

import pytest

from gianet import atomic
from gianet.cli import main
from gianet.data.cache import build_cache
from gianet.data.lists import parse_list
from gianet.data.manifest import CacheError
from gianet.data.sources import record_sources
from gianet.errors import OS_FIXES, explain
from gianet.fetch import extract
from gianet.fetch.extract import ExtractError, safe_extract
from gianet.jobs.interrupt import JobInterrupted, stop_raises
from gianet.paths import SPLITS
from gianet.synth.generate import generate_dataset


class FullDisk(io.FileIO):
    """A file on a full disk: write(2) fails with ``number`` and, as the kernel's error does,
    names no file."""

    number = errno.ENOSPC

    def write(self, data) -> int:
        raise OSError(self.number, os.strerror(self.number))


def _pack_on_a_full_disk(tmp_path: Path, monkeypatch) -> tuple[Path, list[str]]:
    """Pack one training pair while every new file's write fails with ENOSPC; returns the
    cache folder and the lines of the error after its first."""
    root = tmp_path / "data"
    generate_dataset(root, "Sony", scenes=dict.fromkeys(SPLITS, 1), height=48, width=48,
                     ratios=(100,), shorts_per_scene=1, seed=0, progress=False)  # fmt: skip
    splits = {"train": parse_list(root / "Sony_train_list.txt", root)}
    record = record_sources(root, "Sony", root / "Sony_sources.tsv", progress=False)
    opened = io.open

    def full_open(path, mode="r", **options):
        return FullDisk(path, "x") if "x" in mode else opened(path, mode, **options)

    monkeypatch.setattr(atomic, "open", full_open, raising=False)
    cache = tmp_path / "cache"
    with pytest.raises(CacheError) as raised:
        build_cache(root, splits, cache, record=record, levels="sid", progress=False)
    assert "requested" not in str(raised.value)
    return cache, str(raised.value).splitlines()[1:]


def test_a_full_disk_while_packing_says_so(tmp_path, monkeypatch) -> None:
    cache, lines = _pack_on_a_full_disk(tmp_path, monkeypatch)
    arrays = [cache / "gt" / "00001_00_10s.npy", cache / "inputs" / "00001_00_0.1s.npy"]
    assert [line.split(": ", 1)[0] for line in lines] == [str(path) for path in arrays]
    assert all("no space left on the device: free some space" in line for line in lines)
    assert not any(path.exists() for path in arrays)


def test_a_full_disk_while_packing_names_each_file_once(tmp_path, monkeypatch) -> None:
    _, lines = _pack_on_a_full_disk(tmp_path, monkeypatch)
    assert len(lines) == 2 and all(line.count(".npy") == 1 for line in lines)


@pytest.mark.parametrize(
    ("stage", "advice", "not_advice"),
    [
        ("train", "lower train.batch_size or train.patch", "--tile"),
        ("enhance", "pass --tile", "batch_size"),
        ("evaluate", "whole test frames", "--tile"),
        ("pack", "lower --workers", "batch_size"),
        ("check-params", "if an input file is far larger than it should be", "batch_size"),
        (None, "run on a machine with more memory", "--tile"),
    ],
)
def test_out_of_memory_advice_fits_where_it_happened(stage, advice, not_advice) -> None:
    message = explain(MemoryError(), stage)
    assert message.startswith("out of memory") and advice in message
    assert not_advice not in message and (stage is None or f"gianet {stage}" in message)


def test_torchs_cpu_allocator_failing_is_running_out_of_memory() -> None:
    error = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
        "you tried to allocate 98765432100 bytes. Error code 12 (Cannot allocate memory)"
    )
    assert explain(error, "train") == explain(MemoryError(), "train")


def test_a_params_file_too_large_to_read_names_the_file(tmp_path, monkeypatch, capsys) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("dataset: sid-synth\n")

    read_text = Path.read_text

    def exhausted(self, *args, **kwargs):
        if self == params:
            raise MemoryError
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", exhausted)
    code = main(["check-params", str(params)])

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert f"{params}: reading it ran out of memory" in error and "check the path" in error
    assert "batch_size" not in error and "--tile" not in error


def test_an_extraction_stopped_by_a_file_size_limit_names_it(tmp_path, monkeypatch) -> None:
    archive = tmp_path / "Sony.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("Sony/short/00001_00_0.1s.ARW", b"raw")

    class TooLarge(FullDisk):
        number = errno.EFBIG

    monkeypatch.setattr(extract, "open", lambda path, mode: TooLarge(path, mode), raising=False)
    with pytest.raises(ExtractError) as raised:
        safe_extract(archive, tmp_path / "Sony", members_prefix="Sony", progress=False)

    message = str(raised.value)
    assert "file too large" in message and "ulimit -f" in message
    assert "permissions" not in message and "\n" not in message


def test_an_interrupted_evaluation_does_not_claim_nothing_was_written() -> None:
    with pytest.raises(JobInterrupted) as raised, stop_raises("evaluating model.pt"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    message = str(raised.value)
    assert "stopped before its results were written" in message
    assert "nothing was written" not in message and "Rerun" in message


@pytest.mark.parametrize("number", sorted(OS_FIXES), ids=errno.errorcode.get)
def test_every_os_error_a_write_can_raise_is_one_line_naming_the_file(number) -> None:
    message = explain(OSError(number, os.strerror(number), "out/model.pt"))
    assert message.startswith("out/model.pt: ") and "\n" not in message
    assert len(message.split(": ", 2)) == 3  # the path, the cause, the fix


@pytest.mark.parametrize("number", [errno.EBADF, errno.EINVAL, errno.EFAULT])
def test_errors_of_how_a_file_is_used_keep_their_traceback(number) -> None:
    assert explain(OSError(number, os.strerror(number), "x")) is None

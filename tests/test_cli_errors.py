"""The command line's one error boundary: every error a user can fix is one line naming the
file or key and the fix, with exit status 2; ``--debug`` shows the traceback; bugs keep
theirs."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from gianet.cli import main
from gianet.data.manifest import CacheError
from gianet.errors import explain
from gianet.report import costs

#: `gianet cost`'s settings, as its rule passes them.
COST = ["--settings", '{"cameras": ["Sony", "Fuji"], "extra_convs_kernel": 3}']


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def failing_cost(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """`gianet cost` raises ``error`` where it would write its table."""

    def write_costs(cameras, out, kernel):
        raise error

    monkeypatch.setattr(costs, "write_costs", write_costs)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "out/cost.json"), "no space left"),
        (PermissionError(errno.EACCES, "Permission denied", "out/cost.json"), "permission denied"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "out/cost.json"), "is a folder"),
        (OSError(errno.EROFS, "Read-only file system", "out/cost.json"), "read-only"),
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out of GPU"),
        (RuntimeError("No CUDA GPUs are available"), "CUDA is not usable here"),
        (AssertionError("Torch not compiled with CUDA enabled"), "CUDA is not usable here"),
        (MemoryError(), "out of memory"),
    ],
)
def test_user_fixable_errors_are_one_line_with_exit_2(
    monkeypatch, capsys, tmp_path, error, expected
):
    failing_cost(monkeypatch, error)

    code, stderr = run(["cost", "--out", str(tmp_path / "cost.json"), *COST], capsys)

    assert code == 2 and stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith("gianet cost: error: ") and expected in stderr
    if isinstance(error, OSError):
        assert "out/cost.json" in stderr


def test_debug_shows_the_traceback(monkeypatch, capsys, tmp_path):
    failing_cost(monkeypatch, OSError(errno.ENOSPC, "No space left on device", "x"))
    with pytest.raises(OSError, match="No space left"):
        main(["--debug", "cost", "--out", str(tmp_path / "cost.json"), *COST])


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    failing_cost(monkeypatch, ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        main(["cost", "--out", str(tmp_path / "cost.json"), *COST])


def test_an_interrupt_exits_130_with_one_line(monkeypatch, capsys, tmp_path):
    failing_cost(monkeypatch, KeyboardInterrupt())
    code, stderr = run(["cost", "--out", str(tmp_path / "cost.json"), *COST], capsys)
    assert code == 130 and stderr == "gianet cost: interrupted; finished files are kept\n"


def test_outputs_that_cannot_be_written_are_refused_before_any_work(monkeypatch, capsys, tmp_path):
    failing_cost(monkeypatch, AssertionError("the stage must not run"))
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "file").write_text("x")

    code, stderr = run(["cost", "--out", str(tmp_path / "folder.json"), *COST], capsys)
    assert code == 2 and "folder.json: is a folder" in stderr and stderr.count("\n") == 1

    code, stderr = run(["cost", "--out", str(tmp_path / "file" / "cost.json"), *COST], capsys)
    assert code == 2 and "is a file, not a folder" in stderr

    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)  # as a non-root user
    code, stderr = run(["cost", "--out", str(tmp_path / "new" / "cost.json"), *COST], capsys)
    assert code == 2 and f"the folder {tmp_path} is not writable for you" in stderr


def test_settings_that_are_not_json_name_the_flag(capsys, tmp_path):
    lists = [str(tmp_path / f"Sony_{split}_list.txt") for split in ("train", "val", "test")]
    code, stderr = run(["synth", "--lists", *lists, "--record", str(tmp_path / "r.tsv"),
                        "--settings", "{", "--runtime", "{}"], capsys)  # fmt: skip
    assert code == 2 and "--settings: not valid JSON" in stderr and stderr.count("\n") == 1


class _DamagedCache(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int):
        raise CacheError("cache/x.npy: the cached array is missing; run `gianet pack`")


def test_an_error_raised_in_a_data_loading_worker_is_still_one_line():
    loader = torch.utils.data.DataLoader(_DamagedCache(), num_workers=1)
    with pytest.raises(CacheError) as raised:
        next(iter(loader))
    assert "Traceback" in str(raised.value)  # torch prepends the worker's traceback

    assert explain(raised.value) == "cache/x.npy: the cached array is missing; run `gianet pack`"

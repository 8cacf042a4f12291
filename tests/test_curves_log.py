"""Training curves continue across interruptions: each epoch logged exactly once."""

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gianet.training.curves_log import open_curves, truncate_series


def steps(log_dir, series="train/loss.tsv"):
    with open(log_dir / "plots" / "metrics" / series, newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle, delimiter="\t")]


def log_epochs(log_dir, start, stop):
    with open_curves(log_dir, start) as live:
        for epoch in range(start, stop):
            live.log_metric("train/loss", 1.0 / (epoch + 1))
            if epoch % 2:
                live.log_metric("val/psnr", 20.0 + epoch)
            live.next_step()


def test_fresh_start_clears_and_resume_continues_at_the_given_epoch(tmp_path):
    log_dir = tmp_path / "train"
    log_epochs(log_dir, 0, 5)
    # As a SIGKILL after epoch 4 would leave it, with the saved state at epoch 3, and after
    # Snakemake deleted the job's declared output before running it again:
    (log_dir / "metrics.json").unlink()
    log_epochs(log_dir, 3, 7)
    assert steps(log_dir) == list(range(7))
    assert steps(log_dir, "val/psnr.tsv") == [1, 3, 5]
    assert json.loads((log_dir / "metrics.json").read_text())["step"] == 6
    log_epochs(log_dir, 0, 2)  # a new training from scratch forgets the old curves
    assert steps(log_dir) == [0, 1]


def test_truncate_keeps_earlier_rows_and_counts_what_it_dropped(tmp_path):
    log_dir = tmp_path / "train"
    log_epochs(log_dir, 0, 4)
    assert truncate_series(log_dir, 2) == 2 + 1  # loss at 2, 3 and psnr at 3
    assert steps(log_dir) == [0, 1]
    assert truncate_series(tmp_path / "absent", 0) == 0


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_curves_leave_the_repository_around_them_alone(tmp_path, monkeypatch):
    """dvclive's Live ran `dvc init` on the enclosing Git repository (files outside the run's
    outputs) and failed with "Empty git repo" in a fresh one; the curve log does neither."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)

    log_epochs(Path("results") / "train", 0, 3)

    assert sorted(p.name for p in tmp_path.iterdir()) == [".git", "results"]
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert sorted(line for line in status if line) == [
        "?? results/train/metrics.json",
        "?? results/train/plots/metrics/train/loss.tsv",
        "?? results/train/plots/metrics/val/psnr.tsv",
    ]
    assert json.loads(Path("results/train/metrics.json").read_text()) == {
        "train": {"loss": 1 / 3},
        "val": {"psnr": 21.0},
        "step": 2,
    }


def test_the_files_are_dvclives(tmp_path, monkeypatch):
    """The same epochs logged through dvclive's Live give the same files (outside any Git
    repository, where Live touches nothing else)."""
    dvclive = pytest.importorskip("dvclive")
    monkeypatch.chdir(tmp_path)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    log_epochs(ours, 0, 3)
    with dvclive.Live(str(theirs), save_dvc_exp=False, dvcyaml=None) as live:
        for epoch in range(3):
            live.log_metric("train/loss", 1.0 / (epoch + 1))
            if epoch % 2:
                live.log_metric("val/psnr", 20.0 + epoch)
            live.next_step()

    for series in ("train/loss.tsv", "val/psnr.tsv"):
        relative = Path("plots") / "metrics" / series
        assert (ours / relative).read_text() == (theirs / relative).read_text()
    assert json.loads((ours / "metrics.json").read_text()) == json.loads(
        (theirs / "metrics.json").read_text()
    )

"""Training curves continue across interruptions: each epoch logged exactly once."""

import csv
import json

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

"""The training curves' dvclive log, continuous across interruptions.

dvclive keeps one TSV per series (``<log>/plots/metrics/train/loss.tsv``: columns
``timestamp``, ``step``, the value) and its latest step in ``<log>/metrics.json``. A resumed
training cannot trust either: Snakemake deletes ``metrics.json`` (the job's declared output)
before it runs the job again, and the TSVs may hold epochs logged after the state it resumes
from was saved. So the training, which knows the epoch it resumes from, says it:
:func:`open_curves` drops every logged row of that epoch or later and sets dvclive's step to
it, so each epoch appears exactly once, whatever the number of interruptions.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gianet.atomic import atomic_file

#: dvclive's folder of metric series inside a log folder.
SERIES = Path("plots") / "metrics"


def truncate_series(log_dir: str | Path, first_dropped_step: int) -> int:
    """Drop the rows with ``step >= first_dropped_step`` from every series TSV of a log.

    Each file is rewritten atomically (a new file, then a rename), which also detaches it
    from any hard link into a DVC cache. Returns the number of rows dropped.
    """
    dropped = 0
    for series in sorted((Path(log_dir) / SERIES).rglob("*.tsv")):
        with open(series, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
            fields = list(rows[0]) if rows else None
        if fields is None or "step" not in fields:
            continue
        kept = [row for row in rows if int(row["step"]) < first_dropped_step]
        dropped += len(rows) - len(kept)
        with atomic_file(series, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, delimiter="\t")
            writer.writeheader()
            writer.writerows(kept)
    return dropped


def open_curves(log_dir: str | Path, resume_epoch: int):
    """A dvclive ``Live`` for a training that starts at epoch ``resume_epoch`` (0: afresh).

    Afresh, dvclive clears the folder's series. Resumed, the series keep epochs
    ``0 .. resume_epoch - 1`` and the next logged step is ``resume_epoch``.
    """
    from dvclive import Live  # here, so that the training loop imports without dvclive

    resumed = resume_epoch > 0
    if resumed:
        truncate_series(log_dir, resume_epoch)
    live = Live(str(log_dir), save_dvc_exp=False, dvcyaml=None, resume=resumed)
    if resumed:
        live.step = resume_epoch
    return live

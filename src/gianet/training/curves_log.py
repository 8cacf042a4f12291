"""The training curves' log in dvclive's format, continuous across interruptions.

The files are dvclive's (https://dvc.org/doc/dvclive/how-it-works): one TSV per series,
``<log>/plots/metrics/train/loss.tsv`` with columns ``step`` and the value's name, and the
latest value of every series with the step in ``<log>/metrics.json``; ``dvc plots`` and
:mod:`gianet.report.curves` read them. gianet writes them itself, with :class:`CurveLog`,
rather than through ``dvclive.Live``, because ``Live`` also acts on the repository around the
log: it runs ``dvc init`` on an enclosing Git repository that has no DVC (files outside the
run's outputs), fails with "Empty git repo" in a freshly ``git init``-ed folder, may post to
DVC Studio, and appends to its TSVs through whatever link sits at their paths.

A resumed training cannot trust the files either: Snakemake deletes ``metrics.json`` (the
job's declared output) before it runs the job again, and the TSVs may hold epochs logged
after the state it resumes from was saved. So the training, which knows the epoch it resumes
from, says it: :func:`open_curves` drops every logged row of that epoch or later and starts
its steps there, so each epoch appears exactly once, whatever the number of interruptions.

Every TSV is appended to through :func:`gianet.atomic.append_file` (never through a link,
never into a file hard-linked into DVC's cache) and rewritten atomically when truncated;
``metrics.json`` is written atomically.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from gianet import atomic

#: dvclive's folder of metric series inside a log folder.
SERIES = Path("plots") / "metrics"
#: dvclive's summary of the latest values, inside a log folder.
SUMMARY = "metrics.json"


def truncate_series(log_dir: str | Path, first_dropped_step: int) -> int:
    """Drop the rows with ``step >= first_dropped_step`` from every series TSV of a log.

    Each file is rewritten atomically (a new file, then a rename), which also detaches it
    from any hard link into a DVC cache. Returns the number of rows dropped.

    Raises:
        gianet.atomic.LinkRefused: a series, or a folder of series, is a symbolic link.
    """
    dropped = 0
    for series in _series_files(Path(log_dir)):
        rows = _read_series(series)
        fields = list(rows[0]) if rows else None
        if fields is None or "step" not in fields:
            continue
        kept = [row for row in rows if int(row["step"]) < first_dropped_step]
        dropped += len(rows) - len(kept)
        with atomic.atomic_file(series, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, delimiter="\t")
            writer.writeheader()
            writer.writerows(kept)
    return dropped


def _series_files(log_dir: Path) -> list[Path]:
    """Every ``.tsv`` under the log's series folder, refusing links on the way."""
    root = log_dir / SERIES
    _check_folders(log_dir, root)
    if not root.is_dir():
        return []
    found = []
    for folder, subfolders, files in os.walk(root):  # os.walk follows no folder link
        for name in subfolders:
            _check_folders(log_dir, Path(folder) / name)
        found += [Path(folder) / name for name in files if name.endswith(".tsv")]
    return sorted(found)


def _check_folders(log_dir: Path, folder: Path) -> None:
    """Refuse a symbolic link at ``folder`` or any folder between ``log_dir`` and it."""
    for part in [folder, *folder.parents]:
        if part == log_dir or log_dir not in part.parents:
            return
        if part.is_symlink():
            raise atomic.LinkRefused(
                0,
                f"{part}: is a symbolic link (to {os.readlink(part)}), not a folder this job "
                "made; the training curves are written only into their own folders. Remove "
                "it and run again",
                str(part),
            )


def _read_series(series: Path) -> list[dict[str, str]]:
    descriptor = atomic.open_no_follow(series, os.O_RDONLY)
    with os.fdopen(descriptor, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


class CurveLog:
    """Per-epoch metrics in dvclive's files (see the module docstring); a context manager.

    Args:
        log_dir: the log folder (``results/.../train``).
        step: the first step (epoch) to log.
        summary: the latest value of each series so far, nested by the parts of its name
            (``{"train": {"loss": 0.1}}``).
    """

    def __init__(self, log_dir: str | Path, step: int = 0, summary: dict | None = None) -> None:
        self.dir = Path(log_dir)
        self.step = step
        self.summary: dict = summary or {}
        self._completed: int | None = step - 1 if step > 0 else None

    def log_metric(self, name: str, value: float) -> None:
        """Append ``(step, value)`` to the series ``name`` (``"train/loss"``)."""
        series = self.dir / SERIES / f"{name}.tsv"
        _check_folders(self.dir, series.parent)
        with atomic.append_file(series, text=True) as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator=os.linesep)
            if handle.tell() == 0:
                writer.writerow(["step", Path(name).name])
            writer.writerow([self.step, value])
        *folders, leaf = name.split("/")
        node = self.summary
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = value

    def next_step(self) -> None:
        """Record the summary at this step (``metrics.json``), then move to the next one."""
        self._completed = self.step
        self._write_summary()
        self.step += 1

    def _write_summary(self) -> None:
        step = {} if self._completed is None else {"step": self._completed}
        atomic.write_json(self.dir / SUMMARY, self.summary | step, indent=4)

    def __enter__(self) -> CurveLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """As dvclive's ``end``: the summary, at the last completed step, is written."""
        self._write_summary()


def open_curves(log_dir: str | Path, resume_epoch: int) -> CurveLog:
    """The curve log of a training that starts at epoch ``resume_epoch`` (0: afresh).

    Afresh, the folder's series and summary are removed (links among them are removed, not
    followed). Resumed, the series keep epochs ``0 .. resume_epoch - 1``, the summary starts
    from their last values, and the next logged step is ``resume_epoch``.

    Raises:
        gianet.atomic.LinkRefused: resumed, with a series or its folder a symbolic link.
    """
    log_dir = Path(log_dir)
    if resume_epoch <= 0:
        _remove(log_dir / SERIES.parts[0])
        _remove(log_dir / SUMMARY)
        return CurveLog(log_dir)
    truncate_series(log_dir, resume_epoch)
    summary: dict = {}
    for series in _series_files(log_dir):
        rows = _read_series(series)
        if rows and "step" in rows[-1]:
            *folders, leaf = series.relative_to(log_dir / SERIES).with_suffix("").parts
            node = summary
            for folder in folders:
                node = node.setdefault(folder, {})
            node[leaf] = float(rows[-1][leaf]) if leaf in rows[-1] else None
    return CurveLog(log_dir, resume_epoch, summary)


def _remove(path: Path) -> None:
    """Remove a file, a link (not what it points to) or a folder tree of the log."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)

"""What the report reads of each trained and evaluated run, and how runs group.

A run is one (camera, variant, seed): its evaluation's ``summary.json`` (means, what could not
be computed, the protocol, the sample PNGs' stems), its per-image ``metrics.csv`` (one row
per test image: ``file``, ``scene``, ``shot``, ``ratio`` and each metric computed) and its
dvclive curves. Every table, statistic and figure of the report starts from
:func:`load_evaluations`'s result: per (camera, variant), one :class:`Evaluation` per seed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gianet.domain.cameras import CAMERA_NAMES
from gianet.errors import GianetError
from gianet.variants import get_variant

#: Keys every evaluation summary must have (metrics may be ``None``).
SUMMARY_KEYS = ("dataset", "camera", "variant", "n_images", "psnr", "ssim", "lpips", "pieapp")
#: Columns every per-image CSV must have besides its metrics.
IMAGE_KEYS = ("file", "shot")


class ReportInputError(GianetError, ValueError):
    """The files handed to the report do not match the runs it was told about."""


@dataclass(frozen=True)
class Run:
    """The files of one trained and evaluated (camera, variant, seed).

    Attributes:
        seed: the training seed; ``None`` where the run has the one seed of ``train.seed``.
    """

    camera: str
    variant: str
    summary: Path
    metrics_csv: Path
    curves: Path
    seed: int | None = None

    @property
    def name(self) -> str:
        """``Sony/gia_net`` (``Sony/gia_net/seed1`` with a seed): the run in curve tables."""
        return f"{self.camera}/{self.variant}" + (
            f"/seed{self.seed}" if self.seed is not None else ""
        )


@dataclass(frozen=True)
class Evaluation:
    """One run's evaluation, loaded.

    Attributes:
        summary: the evaluation's summary (:data:`SUMMARY_KEYS`, ``unavailable``,
            ``samples``, ``samples_dir``, ``protocol``).
        images: its per-image rows (:data:`IMAGE_KEYS` and the metrics computed), in the
            order evaluated.
    """

    run: Run
    summary: dict
    images: pd.DataFrame

    @property
    def samples_dir(self) -> Path:
        """The folder of its sample PNGs (recorded relative to the summary)."""
        return self.run.summary.parent / self.summary.get("samples_dir", "samples")


#: Per (camera, variant), one evaluation per seed, in seed order.
Evaluations = Mapping[tuple[str, str], Sequence[Evaluation]]


def runs_of(
    summaries: Sequence[Path], metrics_csvs: Sequence[Path], curves: Sequence[Path]
) -> list[Run]:
    """Each run's files, matched by folder and named by its summary: a run's summary and
    per-image CSV sit in one results folder and its dvclive ``metrics.json`` in ``train/``
    inside it (:mod:`gianet.paths`); its camera, variant and seed are what its summary says.
    The order of the lists does not matter.

    Raises:
        ReportInputError: a folder without all three files, or a summary that cannot be read.
    """
    by_folder = {Path(path).parent: Path(path) for path in summaries}
    csvs = {Path(path).parent: Path(path) for path in metrics_csvs}
    logs = {Path(path).parent.parent: Path(path) for path in curves}
    if set(csvs) != set(by_folder) or set(logs) != set(by_folder):
        odd = sorted(map(str, (set(csvs) | set(logs)) ^ set(by_folder)))
        raise ReportInputError(
            "the summaries, per-image results and curves do not describe the same runs "
            f"(folders without all three: {', '.join(odd)})"
        )
    runs = []
    for folder, summary in by_folder.items():
        described = _read_summary(summary)
        runs.append(
            Run(
                described["camera"],
                described["variant"],
                summary,
                csvs[folder],
                logs[folder],
                described.get("seed"),
            )
        )
    return runs


def load_evaluations(runs: Sequence[Run]) -> dict[tuple[str, str], list[Evaluation]]:
    """Read every run's summary and per-image CSV, checked and grouped.

    Returns:
        (camera, variant) -> its evaluations in the order given (one per seed), cameras and
        variants in the order given.

    Raises:
        ReportInputError: a summary lacks a key, holds another camera or variant than its run,
            the runs mix datasets or repeat a seed, or a CSV lacks a column or its rows do not
            match the summary's count.
    """
    if not runs:
        raise ReportInputError("no evaluated run given: run the evaluation first")
    grouped: dict[tuple[str, str], list[Evaluation]] = {}
    datasets = set()
    for run in runs:
        if run.camera not in CAMERA_NAMES:
            raise ReportInputError(f"unknown camera {run.camera!r}; expected one of {CAMERA_NAMES}")
        get_variant(run.variant)
        summary = _read_summary(run.summary)
        if (summary["camera"], summary["variant"]) != (run.camera, run.variant):
            raise ReportInputError(
                f"{run.summary}: holds {summary['camera']}/{summary['variant']}, given as "
                f"{run.camera}/{run.variant}"
            )
        images = pd.read_csv(run.metrics_csv)
        absent = [key for key in IMAGE_KEYS if key not in images]
        if absent:
            raise ReportInputError(
                f"{run.metrics_csv}: no {', '.join(absent)} column; evaluate the run again "
                "(snakemake --forcerun evaluate)"
            )
        if len(images) != int(summary["n_images"]):
            raise ReportInputError(
                f"{run.metrics_csv}: {len(images)} rows, its summary {run.summary} counts "
                f"{summary['n_images']}; the two come from different evaluations"
            )
        group = grouped.setdefault((run.camera, run.variant), [])
        if any(other.run.seed == run.seed for other in group):
            raise ReportInputError(f"{run.name}: given twice")
        group.append(Evaluation(run, summary, images))
        datasets.add(summary["dataset"])
    if len(datasets) > 1:
        raise ReportInputError(
            f"the summaries mix datasets {sorted(datasets)}; make one report per dataset"
        )
    return grouped


def dataset_of(evaluations: Evaluations) -> str:
    """The one dataset the evaluations were measured on."""
    return next(iter(evaluations.values()))[0].summary["dataset"]


def image_stem(file: str) -> str:
    """A test image's stem, as sample PNGs are named: ``Sony/short/10003_00_0.1s.ARW`` ->
    ``10003_00_0.1s``."""
    return Path(str(file)).name.rsplit(".", 1)[0]


def selected(images: pd.DataFrame, first_shots: bool) -> pd.DataFrame:
    """The rows a table is over: every test image, or (SID's ``_00`` protocol) shot 0 only."""
    return images[images["shot"].astype(int) == 0] if first_shots else images


def metric_status(evaluation: Evaluation, metric: str) -> str | None:
    """``None`` when the evaluation computed ``metric``; else ``"unavailable"`` (asked for,
    its weights missing) or ``"not computed"`` (not asked for)."""
    if evaluation.summary.get(metric) is not None and metric in evaluation.images:
        return None
    return (
        "unavailable"
        if metric in (evaluation.summary.get("unavailable") or {})
        else ("not computed")
    )


def per_image_values(
    evaluations: Sequence[Evaluation], metric: str, first_shots: bool
) -> tuple[list[str], np.ndarray]:
    """One variant's per-image values of a metric, seeds stacked.

    Returns:
        The test images (``file``, in the first seed's order) and their values, shape
        (seeds, images), float64.

    Raises:
        ReportInputError: the seeds were evaluated on different images.
    """
    frames = [selected(e.images, first_shots).set_index("file")[metric] for e in evaluations]
    files = list(frames[0].index)
    for evaluation, frame in zip(evaluations[1:], frames[1:], strict=True):
        if set(frame.index) != set(files) or len(frame) != len(files):
            raise ReportInputError(
                f"{evaluation.run.metrics_csv}: its test images differ from "
                f"{evaluations[0].run.metrics_csv}'s; evaluate every seed on the same test set"
            )
    return files, np.stack([frame.loc[files].to_numpy(np.float64) for frame in frames])


def _read_summary(path: Path) -> dict:
    """An evaluation summary with every key :data:`SUMMARY_KEYS` names.

    Raises:
        ReportInputError: not JSON, or a key missing.
    """
    try:
        summary = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ReportInputError(f"{path}: cannot be read ({exc}); evaluate the run again") from None
    missing = [key for key in SUMMARY_KEYS if key not in summary]
    if missing:
        raise ReportInputError(f"{path}: lacks {missing}; evaluate the run again")
    return summary

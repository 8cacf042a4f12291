"""The report stage: tables, figure grids, training curves and the DVC metrics of one run.

Every file it reads and writes is handed to it: per trained run (a camera and a variant) the
evaluation summary (which names the sample images it saved), its per-image results and the
dvclive curves; per camera a figure grid and a curves figure to write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gianet import atomic
from gianet.errors import GianetError
from gianet.paths import log_dir_of_curves
from gianet.report.curves import plot_curves, read_curves, write_curve_tables
from gianet.report.figures import common_stems, plot_grid, sample_rows
from gianet.report.latex_html import parse_tables, render_html
from gianet.report.tables import first_shot_summaries, read_summaries, write_tables

#: Headline metrics copied into the DVC metrics file (``dvc exp show`` columns).
HEADLINE = ("psnr", "ssim", "lpips", "pieapp")
#: How a dataset's numbers are described in titles: sid-synth is never passed off as SID.
DATASET_KIND = {"sid-synth": "synthetic data", "sid": "SID test set"}


class ReportInputError(GianetError, ValueError):
    """The files handed to the report do not match the runs it was told about."""


@dataclass(frozen=True)
class Run:
    """What the report reads of one trained and evaluated (camera, variant)."""

    camera: str
    variant: str
    summary: Path
    curves: Path
    metrics_csv: Path | None = None


def runs_of(
    summaries: Sequence[Path], curves: Sequence[Path], metrics_csvs: Sequence[Path]
) -> list[Run]:
    """Each run's files, matched by folder: a run's summary and per-image CSV sit in one
    results folder, its curves in ``train/`` inside it; the run's camera and variant are read
    from its summary.

    Raises:
        ReportInputError: a summary without its CSV or curves, or a file of no run.
    """
    by_folder = {Path(path).parent: Path(path) for path in summaries}
    csvs = {Path(path).parent: Path(path) for path in metrics_csvs}
    logs = {log_dir_of_curves(path).parent: Path(path) for path in curves}
    if set(csvs) != set(by_folder) or set(logs) != set(by_folder):
        odd = sorted(map(str, (set(csvs) | set(logs)) ^ set(by_folder)))
        raise ReportInputError(
            f"the summaries, per-image results and curves do not describe the same runs "
            f"(folders without all three: {', '.join(odd)})"
        )
    runs = []
    for folder, summary in by_folder.items():
        described = json.loads(summary.read_text())
        runs.append(
            Run(described["camera"], described["variant"], summary, logs[folder], csvs[folder])
        )
    return runs


def per_image_rows(runs: Sequence[Run]) -> list[list[dict]]:
    """Each run's per-image results (its evaluation's CSV) as rows.

    Raises:
        ReportInputError: a run has no CSV, or its CSV has no ``shot`` column.
    """
    tables = []
    for run in runs:
        if run.metrics_csv is None:
            raise ReportInputError(
                f"{run.camera}/{run.variant}: SID's _00 tables need its per-image results; "
                "pass --metrics-csvs"
            )
        table = pd.read_csv(run.metrics_csv)
        if "shot" not in table:
            raise ReportInputError(
                f"{run.metrics_csv}: no shot column; evaluate the run again (snakemake "
                "--forcerun evaluate)"
            )
        tables.append(table.to_dict("records"))
    return tables


def dvc_metrics(summaries: list[dict]) -> dict:
    """``{camera: {variant: {metric: value}}}`` of the metrics that were computed."""
    metrics: dict = {}
    for summary in summaries:
        values = {m: summary[m] for m in HEADLINE if summary.get(m) is not None}
        metrics.setdefault(summary["camera"], {})[summary["variant"]] = values
    return metrics


def build_report(
    runs: Sequence[Run],
    *,
    dataset: str,
    figure_variants: Sequence[str],
    costs: Path,
    tables: Path,
    figures: dict[str, Path],
    curve_figures: dict[str, Path],
    headline: Path,
    curve_tables: dict[str, Path],
    tables_html: Path,
    first_shot_tables: bool = False,
) -> None:
    """Write the tables (``tables`` and one file per table beside it), per camera a figure
    grid and a curves figure, and for DVC the metrics file ``headline`` and curve tables.

    Args:
        runs: every (camera, variant) of the run, with its files.
        dataset: ``sid-synth`` or ``sid``, named in every caption and title.
        figure_variants: the grid's columns between input and ground truth.
        costs: JSON written by ``gianet cost``.
        figures, curve_figures: camera -> PNG to write.
        curve_tables: series (``loss``, ``psnr``) -> TSV of every run's curve (DVC's plots).
        tables_html: the same tables rendered as an HTML page (``snakemake --report``).
        first_shot_tables: also Tables 1 to 3 under SID's ``_00`` protocol, from each run's
            per-image results (``Run.metrics_csv``).

    Raises:
        ReportInputError: a summary's camera or variant is not the run it was given for.
    """
    summaries = read_summaries(run.summary for run in runs)
    for run, summary in zip(runs, summaries, strict=True):
        if (summary.get("camera"), summary.get("variant")) != (run.camera, run.variant):
            raise ReportInputError(
                f"{run.summary}: holds {summary.get('camera')}/{summary.get('variant')}, "
                f"given as {run.camera}/{run.variant}; pass summaries camera-major"
            )
    first_shots = (
        first_shot_summaries(summaries, per_image_rows(runs)) if first_shot_tables else None
    )
    written = write_tables(summaries, json.loads(Path(costs).read_text()), tables, first_shots)
    rendered = parse_tables(written[Path(tables).name].read_text())
    atomic.write_text(tables_html, render_html(rendered, f"gianet tables, {dataset}"))
    kind = DATASET_KIND[dataset]
    saved = {
        (run.camera, run.variant): (run.summary.parent / summary["samples_dir"], summary["samples"])
        for run, summary in zip(runs, summaries, strict=True)
    }
    curves = {(run.camera, run.variant): read_curves(log_dir_of_curves(run.curves)) for run in runs}
    for camera, figure in figures.items():
        columns = {v: saved[camera, v][0] for v in figure_variants}
        stems = common_stems(saved[camera, v][1] for v in figure_variants)
        if not stems:
            raise ReportInputError(
                f"{camera}: the evaluations of {', '.join(figure_variants)} saved no sample "
                "image in common; set evaluate.samples to 1 or more"
            )
        stems, rows = sample_rows(columns, stems)
        plot_grid(
            rows,
            figure,
            row_labels=stems,
            title=f"{camera} test images, {dataset} ({kind}); PSNR in dB against ground truth",
        )
        plot_curves(
            {run.variant: curves[run.camera, run.variant] for run in runs if run.camera == camera},
            Path(curve_figures[camera]),
            f"{camera} training curves, {dataset} ({kind})",
        )
    write_curve_tables(curves, curve_tables)
    atomic.write_json(headline, {dataset: dvc_metrics(summaries)}, indent=2)

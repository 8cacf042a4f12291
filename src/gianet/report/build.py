"""The report stage: every table, statistic, figure and curve of one dataset's run.

Every file it reads is a run's (:class:`gianet.report.runs.Run`: summary, per-image CSV,
curves, per seed) or the cost table; every file it writes is one of ``outputs``, which must
hold exactly the names :func:`gianet.report.outputs.report_outputs` lists (``pdf``
optional). The tables are built once as data (:mod:`gianet.report.model`) and rendered to
LaTeX, HTML, CSV and JSON from that data.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gianet import atomic
from gianet.domain.metrics import METRIC_NAMES
from gianet.paths import log_dir_of_curves
from gianet.report import render_data, render_html, render_latex
from gianet.report.cost_table import cost_table
from gianet.report.curves import plot_curves, read_curves, write_curve_tables
from gianet.report.document import Compiled, compile_pdf, report_source
from gianet.report.figures import figure_rows, plot_grid
from gianet.report.model import Table
from gianet.report.outputs import CURVE_SERIES, report_outputs
from gianet.report.paper import RESULT_TABLES
from gianet.report.released import read_released, released_table
from gianet.report.results_tables import results_table
from gianet.report.runs import Evaluations, ReportInputError, Run, load_evaluations
from gianet.report.scatter import per_image_table, plot_scatter, write_per_image_table
from gianet.report.settings import ReportSettings

#: How a dataset's numbers are described in titles: sid-synth is never passed off as SID.
DATASET_KIND = {"sid-synth": "synthetic data", "sid": "SID test set"}


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` made: the tables (as data) and the PDF, if compiled."""

    tables: tuple[Table, ...]
    compiled: Compiled | None


def build_report(
    runs: Sequence[Run],
    *,
    dataset: str,
    cameras: Sequence[str],
    costs: Path,
    outputs: Mapping[str, Path],
    settings: ReportSettings,
    configuration: str = "",
    released: Sequence[Path] = (),
) -> Report:
    """Write the report of one dataset.

    Args:
        runs: every evaluated (camera, variant, seed) with its files.
        dataset: ``sid-synth`` or ``sid`` (named in every caption and title); the summaries
            must say the same.
        cameras: the cameras, in order (blocks of the tables, one figure of each kind).
        costs: the JSON ``gianet cost`` wrote (Table 4).
        outputs: :func:`gianet.report.outputs.report_outputs` for ``dataset``, ``cameras`` and
            ``settings.first_shot_tables``; with ``pdf``, compiled when an engine is on PATH.
        settings: the report's settings (params.yaml ``report``).
        configuration: a phrase naming the run's configuration for the captions (e.g.
            ``"demo (params.yaml)"``); may be empty.
        released: the evaluation summaries of SID's released weights (``sid.released_models``),
            whose table follows Table 4 (:mod:`gianet.report.released`); ``outputs`` then name
            it (``report_outputs(..., released=True)``).

    Raises:
        ReportInputError: the outputs are not the report's, a file does not match its run, or
            a figure variant was not run.
        LatexError: a LaTeX engine is on PATH and failed on ``report.tex``.
    """
    _check_outputs(outputs, cameras, settings.first_shot_tables, bool(released))
    evaluations = load_evaluations(runs)
    measured = next(iter(evaluations.values()))[0].summary["dataset"]
    if measured != dataset:
        raise ReportInputError(f"--dataset {dataset}, but the evaluations measured {measured}")
    tables = _tables(evaluations, cameras, costs, settings, configuration)
    if released:
        tables.append(released_table_of(released, cameras, dataset, configuration))
    _write_tables(tables, outputs, dataset)
    kind = DATASET_KIND.get(dataset, "not SID")
    per_image = per_image_table(evaluations, cameras)
    write_per_image_table(per_image, outputs["per_image"])
    curves = {
        (run.camera, run.variant, run.seed): read_curves(log_dir_of_curves(run.curves))
        for run in runs
    }
    for camera in cameras:
        columns = []
        for variant in settings.figure_variants:
            seeds = evaluations.get((camera, variant))
            if not seeds:
                raise ReportInputError(
                    f"report.figure_variants: {variant} was not run for {camera}; train and "
                    "evaluate it, or leave it out of the figure"
                )
            columns.append(seeds[0])
        seed_note = (
            " (first seed)"
            if any(len(evaluations[camera, v]) > 1 for v in settings.figure_variants)
            else ""
        )
        rows = figure_rows(columns, settings.figure_images, settings.crops)
        plot_grid(
            rows,
            outputs[f"figure_{camera}"],
            title=f"{camera} test images, {dataset} ({kind}){seed_note}; "
            "PSNR / SSIM of the whole image",
        )
        plot_curves(
            {
                run.variant + (f"/seed{run.seed}" if run.seed is not None else ""): curves[
                    run.camera, run.variant, run.seed
                ]
                for run in runs
                if run.camera == camera
            },
            Path(outputs[f"curves_{camera}"]),
            f"{camera} training curves, {dataset} ({kind})",
        )
        plot_scatter(
            per_image,
            camera,
            Path(outputs[f"scatter_{camera}"]),
            f"{camera} per test image, {dataset} ({kind})",
        )
        print(f"gianet report: {camera}'s figure, curves and scatter written", file=sys.stderr)
    write_curve_tables(curves, {s: outputs[f"curve_table_{s}"] for s in CURVE_SERIES})
    atomic.write_json(outputs["headline"], {dataset: dvc_metrics(evaluations)}, indent=2)
    tex = Path(outputs["report_tex"])
    atomic.write_text(
        tex,
        report_source(
            tables,
            dataset=dataset,
            cameras=cameras,
            outputs=outputs,
            tex=tex,
            configuration=configuration,
        ),
    )
    compiled = compile_pdf(tex, Path(outputs["pdf"])) if "pdf" in outputs else None
    return Report(tuple(tables), compiled)


def released_table_of(
    summaries: Sequence[Path], cameras: Sequence[str], dataset: str, configuration: str = ""
) -> Table:
    """The table of SID's released weights from their evaluation summaries, which must be
    measured on ``dataset``.

    Raises:
        ReportInputError: a summary is unreadable or of another dataset.
    """
    read = read_released(summaries)
    other = sorted({s["path"] for s in read if s["dataset"] != dataset})
    if other:
        raise ReportInputError(f"{', '.join(other)}: not measured on {dataset}; evaluate again")
    return released_table(read, cameras, dataset, configuration)


def _check_outputs(
    outputs: Mapping[str, Path], cameras: Sequence[str], first: bool, released: bool
) -> None:
    expected = set(report_outputs(".", cameras, first_shot_tables=first, released=released))
    given = set(outputs) - {"pdf"}
    if given != expected:
        raise ReportInputError(
            "the report's outputs are gianet.report.outputs.report_outputs(...)'s: "
            f"missing {sorted(expected - given)}, unknown {sorted(given - expected)}"
        )


def _tables(
    evaluations: Evaluations,
    cameras: Sequence[str],
    costs: Path,
    settings: ReportSettings,
    configuration: str,
) -> list[Table]:
    """Tables 1 to 3 (each followed by its ``_00`` version with ``first_shot_tables``), then
    Table 4, as data."""
    tables = []
    for number in RESULT_TABLES:
        for first in (False, True) if settings.first_shot_tables else (False,):
            tables.append(
                results_table(
                    number,
                    evaluations,
                    cameras,
                    first_shots=first,
                    bootstrap=settings.bootstrap,
                    configuration=configuration,
                )
            )
        print(f"gianet report: Table {number} and its statistics computed", file=sys.stderr)
    dataset = next(iter(evaluations.values()))[0].summary["dataset"]
    rows = json.loads(Path(costs).read_text())
    tables.append(cost_table(rows, dataset, str(costs), configuration))
    return tables


def _write_tables(tables: Sequence[Table], outputs: Mapping[str, Path], dataset: str) -> None:
    """Each table's LaTeX alone and all together, the HTML page, the CSVs and the JSON."""
    for table in tables:
        atomic.write_text(outputs[table.key], render_latex.render_table(table))
    atomic.write_text(outputs["tables"], render_latex.render_tables(tables))
    title = f"gianet tables, {dataset} ({DATASET_KIND.get(dataset, 'not SID')})"
    atomic.write_text(outputs["tables_html"], render_html.render_page(tables, title))
    atomic.write_text(outputs["tables_csv"], render_data.tables_csv(tables))
    atomic.write_text(outputs["comparisons"], render_data.comparisons_csv(tables))
    atomic.write_json(outputs["tables_json"], render_data.tables_json(tables, dataset), indent=1)


def dvc_metrics(evaluations: Evaluations) -> dict:
    """``{camera: {variant: {metric: value}}}``: the metrics computed, means over seeds (the
    columns of ``dvc exp show``)."""
    metrics: dict = {}
    for (camera, variant), seeds in evaluations.items():
        values = {}
        for metric in METRIC_NAMES:
            per_seed = [e.summary.get(metric) for e in seeds]
            if all(value is not None for value in per_seed):
                values[metric] = math.fsum(per_seed) / len(per_seed)
        metrics.setdefault(camera, {})[variant] = values
    return metrics

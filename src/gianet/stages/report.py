"""The report stages: Table 4's costs, and the tables, figures and curves of a run."""

from __future__ import annotations

from gianet.settings.sections import CameraName, Params, Report
from gianet.stages.declaration import (
    Input,
    Inputs,
    JobSettings,
    OptionalInputs,
    Output,
    Outputs,
    stage,
)


class CostJob(JobSettings):
    """What Table 4's counts depend on: the cameras and model 2's added kernels (always at
    the paper's width, whatever ``train.width`` the runs use)."""

    cameras: list[CameraName]
    extra_convs_kernel: int

    @classmethod
    def from_params(cls, params: Params) -> CostJob:
        return cls(cameras=params.cameras, extra_convs_kernel=params.train.extra_convs_kernel)


class ReportJob(JobSettings):
    """What the report shows: the dataset, the runs, and the ``report`` settings."""

    dataset: str
    cameras: list[CameraName]
    variants: list[str]
    seeds: list[int]
    report: Report

    @classmethod
    def from_params(cls, params: Params) -> ReportJob:
        return cls(
            dataset=params.dataset,
            cameras=params.cameras,
            variants=params.variants,
            seeds=params.train.seeds,
            report=params.report,
        )


@stage("cost")
def cost(*, out: Output, settings: CostJob) -> None:
    """Count the parameters and FLOPs of every variant at full Sony and Fuji frames (Table 4).

    Args:
        out: the JSON file to write.
    """
    from gianet.report.costs import write_costs

    write_costs(list(settings.cameras), out, settings.extra_convs_kernel)


@stage("report")
def report(
    *,
    summaries: Inputs,
    metrics_csvs: Inputs,
    curves: Inputs,
    costs: Input,
    outputs: Outputs,
    settings: ReportJob,
    released: OptionalInputs = None,
) -> None:
    """Render the tables, statistics, figure grids, curves and report.tex of a run.

    Args:
        summaries: every run's evaluation summary (``summary.json``).
        metrics_csvs: every run's per-image results (``metrics.csv``).
        curves: every run's dvclive ``metrics.json``.
        costs: the JSON written by `gianet cost`.
        released: the evaluation summaries of SID's released weights (sid.released_models),
            when any: their table follows Table 4.
        outputs: every file the report writes (gianet.report.outputs.report_outputs: the
            tables in LaTeX, HTML, CSV and JSON, the statistics, the figure grids, curves and
            scatter plots, report.tex, and the DVC metrics and plots).
    """
    from gianet.report.build import build_report
    from gianet.report.runs import runs_of
    from gianet.report.settings import ReportSettings

    released = released or []
    named = outputs_by_name(outputs, settings, bool(released))
    runs = runs_of(summaries, metrics_csvs, curves)
    expected = {(run.camera, run.variant) for run in runs}
    wanted = {(c, v) for c in settings.cameras for v in settings.variants}
    if expected != wanted:
        from gianet.report.runs import ReportInputError

        raise ReportInputError(
            f"the runs given ({len(expected)} cameras x variants) are not the settings' "
            f"({', '.join(settings.cameras)} x {', '.join(settings.variants)})"
        )
    build_report(
        runs,
        dataset=settings.dataset,
        cameras=settings.cameras,
        costs=costs,
        outputs=named,
        settings=ReportSettings.of(settings.report),
        released=released,
    )


class ReleasedReportJob(JobSettings):
    """What the table of SID's released weights alone shows: the dataset and the cameras."""

    dataset: str
    cameras: list[CameraName]

    @classmethod
    def from_params(cls, params: Params) -> ReleasedReportJob:
        return cls(dataset=params.dataset, cameras=params.cameras)


@stage("report-released")
def report_released(
    *, summaries: Inputs, tex: Output, html: Output, csv: Output, settings: ReleasedReportJob
) -> None:
    """Render the table of SID's released weights beside their published scores, alone:
    the check of packing, ground truth, protocol and metrics that needs no training.

    Args:
        summaries: the evaluation summaries of SID's released weights (one per camera and
            test protocol).
        tex: the table's LaTeX to write.
        html: the table as an HTML page.
        csv: the table's cells, one row each (as tables.csv's).
    """
    from gianet import atomic
    from gianet.report import render_data, render_html, render_latex
    from gianet.report.build import DATASET_KIND, released_table_of

    table = released_table_of(summaries, settings.cameras, settings.dataset)
    kind = DATASET_KIND.get(settings.dataset, "not SID")
    title = f"SID's released weights, {settings.dataset} ({kind})"
    atomic.write_text(tex, render_latex.render_table(table))
    atomic.write_text(html, render_html.render_page([table], title))
    atomic.write_text(csv, render_data.tables_csv([table]))
    for block in table.blocks:
        for row in block.rows[:-1]:
            psnr, ssim, pairs = (cell.ours for cell in row.cells)
            print(
                f"{block.camera}: {row.label}: {_value(psnr, 2)} dB, SSIM {_value(ssim, 4)}, "
                f"{_value(pairs, 0)} pairs"
            )


def _value(ours, decimals: int) -> str:
    return f"{ours.mean:.{decimals}f}" if ours.mean is not None else ours.status.value


@stage("report-pdf")
def report_pdf(*, tex: Input, pdf: Output) -> None:
    """Compile report.tex into report.pdf with the LaTeX engine on PATH (latexmk,
    pdflatex or tectonic).

    Args:
        tex: the report's LaTeX source (report.tex, beside the tables and figures it includes).
        pdf: the PDF to write.
    """
    from gianet.report.document import compile_pdf

    compile_pdf(tex, pdf)


def outputs_by_name(outputs: list, settings: ReportJob, released: bool = False) -> dict:
    """The report's outputs by name (:func:`gianet.report.outputs.report_outputs`, with the
    table of SID's released weights when ``released``), found among ``outputs`` by path:
    the tables' folder and the working directory's DVC files.

    Raises:
        ReportInputError: ``outputs`` are not exactly the report's files.
    """
    from pathlib import Path

    from gianet import paths
    from gianet.report.outputs import report_outputs
    from gianet.report.runs import ReportInputError

    given = [Path(path) for path in outputs]
    folders = {path.parent for path in given if path.name == paths.TABLES}
    tops = {path.parent for path in given if path.name == paths.HEADLINE_METRICS}
    if len(folders) != 1 or len(tops) != 1:
        raise ReportInputError(f"--outputs: expected one {paths.TABLES} and one headline file")
    named = report_outputs(
        folders.pop(),
        settings.cameras,
        first_shot_tables=settings.report.first_shot_tables,
        released=released,
        top=tops.pop(),
    )
    if set(named.values()) != set(given):
        odd = sorted(map(str, set(named.values()) ^ set(given)))
        raise ReportInputError(f"--outputs: not the report's files ({', '.join(odd)})")
    return named

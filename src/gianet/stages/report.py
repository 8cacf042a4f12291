"""The report stages: Table 4's costs, and the tables, figures and curves of a run."""

from __future__ import annotations

from gianet.settings.sections import CameraName, Params
from gianet.stages.declaration import Input, Inputs, JobSettings, Output, Outputs, stage


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
    figure_variants: list[str]
    first_shot_tables: bool

    @classmethod
    def from_params(cls, params: Params) -> ReportJob:
        return cls(
            dataset=params.dataset,
            cameras=params.cameras,
            variants=params.variants,
            seeds=params.train.seeds,
            figure_variants=params.report.figure_variants,
            first_shot_tables=params.report.first_shot_tables,
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
    tables: Output,
    tables_html: Output,
    figures: Outputs,
    curve_figures: Outputs,
    headline: Output,
    loss_curves: Output,
    psnr_curves: Output,
    settings: ReportJob,
) -> None:
    """Render the tables, figure grids and curves beside the paper's numbers.

    Args:
        summaries: every run's evaluation summary (``summary.json``).
        metrics_csvs: every run's per-image results (``metrics.csv``).
        curves: every run's dvclive ``metrics.json``.
        costs: the JSON written by `gianet cost`.
        tables: ``tables.tex`` to write (and one file per table beside it).
        tables_html: the same tables as an HTML page.
        figures: one figure grid PNG per camera (``figure_<camera>.png``).
        curve_figures: one curves PNG per camera (``curves_<camera>.png``).
        headline: the DVC metrics JSON to write.
        loss_curves: the TSV of every run's training loss (a DVC plot).
        psnr_curves: the TSV of every run's validation PSNR (a DVC plot).
    """
    from gianet.paths import curves_name, figure_name
    from gianet.report.build import build_report, runs_of

    runs = runs_of(summaries, curves, metrics_csvs)
    build_report(
        runs,
        dataset=settings.dataset,
        figure_variants=settings.figure_variants,
        costs=costs,
        tables=tables,
        figures=_per_camera(figures, settings.cameras, figure_name),
        curve_figures=_per_camera(curve_figures, settings.cameras, curves_name),
        headline=headline,
        curve_tables={"loss": loss_curves, "psnr": psnr_curves},
        tables_html=tables_html,
        first_shot_tables=settings.first_shot_tables,
    )


def _per_camera(files, cameras, name_of) -> dict:
    """Camera -> its file among ``files``, found by its name (``name_of(camera)``)."""
    from gianet.report.build import ReportInputError

    by_name = {path.name: path for path in files}
    missing = [name_of(camera) for camera in cameras if name_of(camera) not in by_name]
    if missing:
        raise ReportInputError(f"no output named {', '.join(missing)} among {list(by_name)}")
    return {camera: by_name[name_of(camera)] for camera in cameras}

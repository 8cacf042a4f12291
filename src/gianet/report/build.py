"""The report stage: tables, figure grids and the DVC metrics of one run."""

from __future__ import annotations

import json
from pathlib import Path

from gianet import paths
from gianet.report.curves import plot_curves
from gianet.report.figures import plot_grid, sample_rows
from gianet.report.tables import read_summaries, write_tables

#: Headline metrics copied into the DVC metrics file (``dvc exp show`` columns).
HEADLINE = ("psnr", "ssim", "lpips", "pieapp")


def dvc_metrics(summaries: list[dict]) -> dict:
    """``{camera: {variant: {metric: value}}}`` of the metrics that were computed."""
    metrics: dict = {}
    for summary in summaries:
        values = {m: summary[m] for m in HEADLINE if summary.get(m) is not None}
        metrics.setdefault(summary["camera"], {})[summary["variant"]] = values
    return metrics


def build_report(params: dict, costs_path: Path, metrics_path: Path = Path("metrics.json")) -> None:
    """Write ``report/{dataset}/tables.tex`` (+ one file per table), ``figure_{camera}.png``
    and ``curves_{camera}.png`` per camera, and the DVC metrics file, from the evaluation
    summaries and training logs of ``params``' run."""
    report_dir = paths.report_dir(params)
    summary_paths = [
        paths.summary_file(params, camera, variant)
        for camera in params["cameras"]
        for variant in params["variants"]
    ]
    summaries = read_summaries(summary_paths)
    write_tables(summaries, json.loads(Path(costs_path).read_text()), report_dir)
    dataset = params["dataset"]
    for camera in params["cameras"]:
        camera_results = paths.camera_results_dir(params, camera)
        stems, rows = sample_rows(camera_results, params["report"]["figure_variants"])
        kind = {"sid-synth": "synthetic data", "sid": "SID test set"}[dataset]
        plot_grid(
            rows,
            report_dir / f"figure_{camera}.png",
            row_labels=stems,
            title=f"{camera} test images, {dataset} ({kind}); PSNR in dB against ground truth",
        )
        logs = {v: paths.train_log_dir(params, camera, v) for v in params["variants"]}
        plot_curves(
            logs,
            report_dir / f"curves_{camera}.png",
            f"{camera} training curves, {dataset} ({kind})",
        )
    metrics_path.write_text(json.dumps({dataset: dvc_metrics(summaries)}, indent=2))

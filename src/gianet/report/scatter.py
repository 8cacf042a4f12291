"""Per test image: every variant's metrics in one table (for ``dvc plots``) and GIA-Net's
PSNR against SID-Net's in one scatter per camera.

A point above the diagonal is an image on which GIA-Net scores higher. With several seeds a
variant's value of an image is its mean over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gianet import atomic
from gianet.domain.metrics import METRIC_NAMES
from gianet.report.runs import Evaluations, metric_status, per_image_values
from gianet.variants import get_variant

#: The scatter's (x, y) variants: SID-Net, the paper's baseline, and GIA-Net.
SCATTER_PAIR = ("sid_net", "gia_net")
#: Columns of the per-image table before the metrics, each named ``<metric>_<variant>``.
IMAGE_COLUMNS = ("camera", "file", "scene", "shot", "ratio")


def per_image_table(evaluations: Evaluations, cameras: Sequence[str]) -> pd.DataFrame:
    """One row per (camera, test image): :data:`IMAGE_COLUMNS` and, for every variant and
    metric it computed, ``<metric>_<variant>`` (mean over seeds). Images follow the first
    variant's evaluation order; a variant evaluated on other images gets empty cells."""
    frames = []
    for camera in cameras:
        runs = {v: e for (c, v), e in evaluations.items() if c == camera}
        if not runs:
            continue
        first = next(iter(runs.values()))[0].images
        frame = first[[c for c in IMAGE_COLUMNS if c in first]].copy()
        frame.insert(0, "camera", camera)
        for variant, seeds in runs.items():
            for metric in METRIC_NAMES:
                if any(metric_status(e, metric) for e in seeds):
                    continue
                files, values = per_image_values(seeds, metric, first_shots=False)
                means = pd.Series(values.mean(axis=0), index=files)
                frame[f"{metric}_{variant}"] = frame["file"].map(means)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(IMAGE_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def write_per_image_table(table: pd.DataFrame, out_path: Path) -> Path:
    """Write :func:`per_image_table` as a TSV (``dvc plots``: template ``scatter``, x
    ``psnr_sid_net``, y ``psnr_gia_net``)."""
    return atomic.write_text(out_path, table.to_csv(sep="\t", index=False, float_format="%.8g"))


def plot_scatter(table: pd.DataFrame, camera: str, out_path: Path, title: str) -> Path:
    """GIA-Net's PSNR against SID-Net's, one point per test image of ``camera``.

    Args:
        table: :func:`per_image_table`'s result.
        camera: whose images.
        out_path: PNG to write.
        title: the figure's title (dataset and camera).

    A camera without both variants' PSNRs gets a figure saying so.
    """
    x_key, y_key = (f"psnr_{v}" for v in SCATTER_PAIR)
    rows = table[table["camera"] == camera] if "camera" in table else table
    figure = Figure(figsize=(4.6, 4.4), dpi=120, layout="constrained")
    axis = figure.subplots()
    labels = [get_variant(v).label for v in SCATTER_PAIR]
    if x_key not in rows or y_key not in rows or rows[[x_key, y_key]].dropna().empty:
        axis.text(
            0.5,
            0.5,
            f"{labels[0]} and {labels[1]} PSNRs\nnot both available for {camera}",
            ha="center",
            va="center",
            transform=axis.transAxes,
        )
        axis.set_xticks([])
        axis.set_yticks([])
    else:
        pairs = rows[[x_key, y_key, *(["shot"] if "shot" in rows else [])]].dropna()
        x, y = pairs[x_key].to_numpy(float), pairs[y_key].to_numpy(float)
        finite = np.isfinite(x) & np.isfinite(y)
        first = (pairs["shot"].astype(int) == 0).to_numpy() if "shot" in pairs else finite
        for mask, marker, name in ((first, "o", "shot 00"), (~first, "^", "other shots")):
            if (mask & finite).any():
                axis.scatter(
                    x[mask & finite], y[mask & finite], s=18, marker=marker, alpha=0.8, label=name
                )
        low = min(x[finite].min(), y[finite].min())
        high = max(x[finite].max(), y[finite].max())
        pad = 0.05 * (high - low or 1.0)
        axis.plot([low - pad, high + pad], [low - pad, high + pad], color="grey", lw=0.8, ls="--")
        axis.set_xlim(low - pad, high + pad)
        axis.set_ylim(low - pad, high + pad)
        axis.set_aspect("equal")
        above = int((y[finite] > x[finite]).sum())
        axis.text(
            0.03,
            0.97,
            f"{labels[1]} higher on {above} of {int(finite.sum())} images",
            transform=axis.transAxes,
            va="top",
            fontsize=8,
        )
        axis.set_xlabel(f"{labels[0]} PSNR (dB)")
        axis.set_ylabel(f"{labels[1]} PSNR (dB)")
        axis.grid(alpha=0.3)
        if (~first & finite).any():
            axis.legend(fontsize=7, loc="lower right")
    axis.set_title(title, fontsize=9)
    return atomic.write_with(out_path, lambda handle: figure.savefig(handle, format="png"))

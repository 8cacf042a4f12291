"""Training curves from the dvclive logs: training loss and validation PSNR per epoch.

dvclive writes ``<log>/plots/metrics/train/loss.tsv`` and ``.../val/psnr.tsv`` (columns
``step`` and the value), which :func:`read_curves` reads once per run. :func:`plot_curves` puts
every variant of a camera in one figure for the report; :func:`write_curve_tables` gathers
every run into one table per series, which ``dvc plots show`` draws (dvc.yaml), one line per
run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from gianet import atomic
from gianet.variants import get_variant

CURVES = (
    ("train/loss.tsv", "loss", "training loss"),
    ("val/psnr.tsv", "psnr", "validation PSNR (dB)"),
)
#: Columns of the tables :func:`write_curve_tables` writes, before the value's own column.
TABLE_KEYS = ("run", "camera", "variant", "epoch")


def read_curve(train_log: Path, relative: str) -> pd.DataFrame | None:
    """One dvclive series as a frame with ``step`` and the value; ``None`` when absent."""
    path = Path(train_log) / "plots" / "metrics" / relative
    return pd.read_csv(path, sep="\t") if path.exists() else None


def read_curves(train_log: Path) -> dict[str, pd.DataFrame]:
    """Every series of one run's dvclive folder: column (``loss``, ``psnr``) -> its frame;
    a series that was not logged is absent."""
    curves = {column: read_curve(train_log, relative) for relative, column, _ in CURVES}
    return {column: curve for column, curve in curves.items() if curve is not None}


def plot_curves(curves: dict[str, dict[str, pd.DataFrame]], out_path: Path, title: str) -> Path:
    """Draw loss and validation PSNR against epoch, one line per run.

    Args:
        curves: variant name, or ``<variant>/seed<k>`` with several seeds, -> its run's
            series (:func:`read_curves`); a variant's seeds share its colour.
        out_path: PNG to write.
        title: the figure's title.
    """
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    axes: Sequence = figure.subplots(1, 2)
    variants = list(dict.fromkeys(name.split("/")[0] for name in curves))
    palette = _palette(len(variants))
    for name, series in curves.items():
        variant, _, seed = name.partition("/")
        index = variants.index(variant)
        for axis, (_, column, _) in zip(axes, CURVES, strict=True):
            curve = series.get(column)
            if curve is not None:
                axis.plot(
                    curve["step"] + 1,
                    curve[column],
                    color=palette[index],
                    marker="o" if len(curve) < 8 else None,
                    markersize=3,
                    label=get_variant(variant).label + (f" {seed}" if seed else ""),
                )
    for axis, (_, _, label) in zip(axes, CURVES, strict=True):
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    figure.suptitle(title, fontsize=11)
    return atomic.write_with(out_path, lambda handle: figure.savefig(handle, format="png", dpi=120))


def _palette(count: int) -> list:
    """Distinct colours for up to 20 variants (matplotlib's tab20)."""
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(count)]


def write_curve_tables(
    curves: dict[tuple[str, str, int | None], dict[str, pd.DataFrame]], tables: dict[str, Path]
) -> dict[str, pd.DataFrame]:
    """One long table per series over every run: ``run camera variant epoch <value>``.

    Args:
        curves: (camera, variant, seed) -> its run's series (:func:`read_curves`); seed
            ``None`` for a run of the one seed. ``run`` reads ``Sony/gia_net`` (with a seed,
            ``Sony/gia_net/seed1``).
        tables: series column (``loss``, ``psnr``) -> TSV to write; epochs count from 1.

    Returns:
        Series column -> the table written (empty, with its header, when nothing was logged).
    """
    written = {}
    for _, column, _ in CURVES:
        if column not in tables:
            continue
        frames = []
        for (camera, variant, seed), series in curves.items():
            curve = series.get(column)
            if curve is None:
                continue
            frames.append(
                pd.DataFrame(
                    {
                        "run": f"{camera}/{variant}" + (f"/seed{seed}" if seed is not None else ""),
                        "camera": camera,
                        "variant": variant,
                        "epoch": curve["step"].astype(int) + 1,
                        column: curve[column],
                    }
                )
            )
        table = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=[*TABLE_KEYS, column])
        )
        atomic.write_text(tables[column], table.to_csv(sep="\t", index=False, float_format="%.8g"))
        written[column] = table
    return written

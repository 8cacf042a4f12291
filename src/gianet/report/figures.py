"""Figure grids: one row per test image; columns input, any variants, ground truth.

Drawn on a bare matplotlib ``Figure`` (Agg canvas), so no display and no pyplot state.

The evaluation writes 8-bit sRGB PNGs per variant into its samples folder
(``{stem}_{input,output,gt}.png``, :func:`gianet.paths.sample_names`). :func:`plot_grid`
draws explicit panels; :func:`sample_rows` finds them in the variants' samples folders and
measures each panel's PSNR against the ground truth PNG.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from matplotlib.figure import Figure

from gianet import atomic
from gianet.evaluation.metrics import psnr
from gianet.paths import sample_names
from gianet.variants import get_variant

#: Width of one panel in inches; a panel's height follows the image's aspect ratio.
PANEL_WIDTH_INCHES = 3.2
#: Vertical room per row for the panel titles, in inches.
TITLE_INCHES = 0.35
DPI = 150


@dataclass(frozen=True)
class Panel:
    """One image of the grid.

    Attributes:
        image: an 8-bit RGB (or RGBA, grey) PNG.
        title: shown above the panel (the column's name: "input", a variant's label...).
        psnr: PSNR against the ground truth in dB, annotated in the panel; ``None`` for none
            (the ground truth itself).
    """

    image: Path
    title: str
    psnr: float | None = None


def plot_grid(
    rows: Sequence[Sequence[Panel]],
    out_path: str | Path,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    dpi: int = DPI,
) -> Path:
    """Draw panels in a grid (rows x columns, all rows the same length) and save a PNG.

    The figure is ``columns * PANEL_WIDTH_INCHES`` wide; each row is as tall as its first
    image's aspect ratio asks, plus :data:`TITLE_INCHES` for its titles (and once more for
    ``title``).

    Args:
        rows: panels, row by row.
        out_path: PNG to write; its folder is created.
        row_labels: one per row, written beside the first panel (e.g. the image's stem).
        title: above the whole grid (e.g. the dataset and camera).
        dpi: resolution of the saved PNG.

    Returns:
        ``out_path`` as a Path.
    """
    if not rows or any(len(row) != len(rows[0]) for row in rows) or not rows[0]:
        raise ValueError("expected a non-empty grid with the same number of panels per row")
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"{len(row_labels)} row labels for {len(rows)} rows")
    images = [[_read_rgb(panel.image) for panel in row] for row in rows]
    title_lines = len(rows) + (title is not None)
    heights = [PANEL_WIDTH_INCHES * row[0].shape[0] / row[0].shape[1] for row in images]
    figure = Figure(
        figsize=(PANEL_WIDTH_INCHES * len(rows[0]), sum(heights) + TITLE_INCHES * title_lines),
        layout="constrained",
    )
    axes = figure.subplots(
        len(rows), len(rows[0]), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for r, (row, row_images) in enumerate(zip(rows, images, strict=True)):
        for c, (panel, image) in enumerate(zip(row, row_images, strict=True)):
            axis = axes[r][c]
            axis.imshow(image)
            axis.set_title(panel.title, fontsize=10)
            axis.set_xticks([])
            axis.set_yticks([])
            if panel.psnr is not None:
                axis.text(
                    0.03,
                    0.04,
                    f"{panel.psnr:.2f} dB",
                    transform=axis.transAxes,
                    color="white",
                    fontsize=9,
                    bbox={"facecolor": "black", "alpha": 0.6, "pad": 2, "edgecolor": "none"},
                )
        if row_labels is not None:
            axes[r][0].set_ylabel(row_labels[r], fontsize=9)
    if title is not None:
        figure.suptitle(title, fontsize=11)
    # A bare Figure renders with Agg; pyplot is not involved.
    return atomic.write_with(out_path, lambda handle: figure.savefig(handle, format="png", dpi=dpi))


def sample_rows(
    sample_dirs: Mapping[str, str | Path],
    stems: Sequence[str] | None = None,
) -> tuple[list[str], list[list[Panel]]]:
    """Panels for :func:`plot_grid` from the evaluation's sample PNGs of one camera.

    Input and ground truth come from the first variant's ``samples`` folder. PSNRs are
    measured here on the 8-bit PNGs shown, so they can differ from the evaluation's float
    numbers by the 8-bit rounding (a few hundredths of a dB at typical values). The input
    panel is the evaluation's preview rendering of the amplified raw, so its PSNR is only
    indicative.

    Args:
        sample_dirs: variant name -> its evaluation's samples folder, one column each, in
            order.
        stems: test images (:func:`gianet.paths.sample_names`), one row each; default: every
            stem that all variants saved, sorted.

    Returns:
        The stems (row labels) and the rows of panels.
    """
    if not sample_dirs:
        raise ValueError("name at least one variant for the figure's columns")
    variants, folders = list(sample_dirs), [Path(f) for f in sample_dirs.values()]
    output_suffix = sample_names("")["output"]
    if stems is None:
        stems = common_stems(
            [p.name.removesuffix(output_suffix) for p in f.glob(f"*{output_suffix}")]
            for f in folders
        )
        if not stems:
            raise FileNotFoundError(f"no sample PNGs common to {[str(f) for f in folders]}")
    rows = []
    for stem in stems:
        names = sample_names(stem)
        truth_path = folders[0] / names["gt"]
        truth = _read_rgb(truth_path)
        row = [Panel(folders[0] / names["input"], "input")]
        row += [
            Panel(folder / names["output"], get_variant(name).label)
            for name, folder in zip(variants, folders, strict=True)
        ]
        row = [Panel(p.image, p.title, _psnr_8bit(_read_rgb(p.image), truth)) for p in row]
        rows.append([*row, Panel(truth_path, "ground truth")])
    return list(stems), rows


def common_stems(saved: Iterable[Iterable[str]]) -> list[str]:
    """The sample stems that every variant saved (one iterable per variant), sorted: the
    figure's rows."""
    return sorted(set.intersection(*(set(stems) for stems in saved)))


def _read_rgb(path: Path) -> np.ndarray:
    """An 8-bit PNG as ``(H, W, 3)`` uint8 (grey repeated, alpha dropped)."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the evaluation that writes it")
    image = iio.imread(path)
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit image, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3]


def _psnr_8bit(image: np.ndarray, truth: np.ndarray) -> float:
    as_tensor = [torch.from_numpy(a).permute(2, 0, 1)[None] for a in (image, truth)]
    return psnr(*as_tensor, data_range=255).item()

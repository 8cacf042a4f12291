"""Figure grids as the paper's Fig. 5 and 6: whole frames, zoomed crops, and each tile's
PSNR and SSIM.

Per test image a row of tiles: the short exposure brightened by its ratio (the evaluation's
preview of the amplified raw), the ground truth, then each of the figure's variants
(SID-Net, the ablations, GIA-Net), each whole frame with its crops outlined; under each, the
same crops zoomed. The variants' tiles print the evaluation's own PSNR and SSIM of that image
(its ``metrics.csv``); the input's are measured here on the 8-bit PNGs shown, so they are
indicative only. Drawn on a bare matplotlib ``Figure`` (Agg), no pyplot state.

The evaluation writes the PNGs (:func:`gianet.paths.sample_names`: ``{stem}_input.png``,
``_output.png``, ``_gt.png``, 8-bit sRGB, full resolution) for the first
``evaluate.samples`` test images; the grids show those, or the ones
``report.figure_images`` names among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gianet import atomic
from gianet.evaluation.metrics import psnr, ssim
from gianet.paths import sample_names
from gianet.report.crops import (
    Crop,
    CropChoice,
    crop_side,
    most_different,
    placed,
)
from gianet.report.runs import Evaluation, ReportInputError, image_stem
from gianet.variants import get_variant

#: Width of one tile in inches; a frame's height follows its aspect ratio, crops are square.
TILE_INCHES = 2.0
DPI = 150
#: Outline and frame colours of the first, second... crop.
CROP_COLOURS = ("#ffd400", "#00d5ff", "#ff3df5", "#7cff00")


@dataclass(frozen=True)
class Tile:
    """One column of one image row.

    Attributes:
        image: (H, W, 3) uint8 sRGB, the whole frame.
        title: the column's name ("input ×100", "GIA-Net"...).
        scores: printed on the tile (``"28.41 dB / 0.812"``); empty: nothing.
    """

    image: np.ndarray
    title: str
    scores: str = ""


@dataclass(frozen=True)
class ImageRow:
    """One test image: its tiles (all one size) and the crops shown under each."""

    label: str
    tiles: tuple[Tile, ...]
    crops: tuple[Crop, ...]


@dataclass(frozen=True)
class TileBox:
    """Where a tile landed in the saved PNG, in pixels (x rightwards, y downwards)."""

    row: int
    column: int
    part: str  # "frame" or "crop 1", "crop 2"...
    x0: int
    y0: int
    x1: int
    y1: int


def figure_rows(
    evaluations: Sequence[Evaluation], images: Sequence[str], crops: CropChoice
) -> list[ImageRow]:
    """The grid's rows for one camera.

    Args:
        evaluations: one per figure variant, in the columns' order (each variant's first
            seed); the input and ground truth come from the first one's samples.
        images: test image stems to show; empty: every stem all the variants saved, in
            evaluation order.
        crops: where the crops are; automatic ones are where the last and first variants'
            outputs differ most (one variant: where it differs most from the ground truth).

    Raises:
        ReportInputError: a named image was not saved by every variant, or none was.
    """
    saved = [list(e.summary.get("samples") or []) for e in evaluations]
    common = [stem for stem in saved[0] if all(stem in other for other in saved[1:])]
    names = ", ".join(e.run.variant for e in evaluations)
    if images:
        absent = [stem for stem in images if stem not in common]
        if absent:
            raise ReportInputError(
                f"report.figure_images: {', '.join(absent)} not saved by every one of {names} "
                f"(saved: {', '.join(common) or 'none'}); raise evaluate.samples or name saved "
                "images"
            )
        common = list(images)
    if not common:
        raise ReportInputError(
            f"{evaluations[0].run.camera}: the evaluations of {names} saved no sample image in "
            "common; set evaluate.samples to 1 or more"
        )
    return [_row(stem, evaluations, crops) for stem in common]


def _row(stem: str, evaluations: Sequence[Evaluation], choice: CropChoice) -> ImageRow:
    names = sample_names(stem)
    first = evaluations[0].samples_dir
    truth = read_rgb(first / names["gt"])
    shown = read_rgb(first / names["input"])
    outputs = [read_rgb(e.samples_dir / names["output"]) for e in evaluations]
    for image in (shown, *outputs):
        if image.shape != truth.shape:
            raise ReportInputError(
                f"{first / names['gt']}: {truth.shape} differs from a sample of the same image "
                f"({image.shape}); evaluate the variants again"
            )
    ratio = _image_row(evaluations[0], stem).get("ratio")
    ratio_text = f" ×{float(ratio):g}" if ratio is not None else ""
    tiles = [
        Tile(shown, "input" + ratio_text, _scores(*_measure(shown, truth))),
        Tile(truth, "ground truth"),
    ]
    for evaluation, output in zip(evaluations, outputs, strict=True):
        row = _image_row(evaluation, stem)
        tiles.append(
            Tile(
                output,
                get_variant(evaluation.run.variant).label,
                _scores(row.get("psnr"), row.get("ssim")),
            )
        )
    side = crop_side(truth.shape, choice.size)
    if stem in choice.corners:
        crops = placed(truth.shape, side, choice.corners[stem])
    else:
        other = outputs[0] if len(outputs) > 1 else truth
        crops = most_different(outputs[-1], other, side, choice.per_image)
    return ImageRow(stem + ratio_text, tuple(tiles), tuple(crops))


def _image_row(evaluation: Evaluation, stem: str) -> dict:
    """The evaluation's per-image row of a test image (empty when absent)."""
    stems = evaluation.images["file"].map(image_stem)
    rows = evaluation.images[stems == stem]
    return rows.iloc[0].to_dict() if len(rows) else {}


def _scores(psnr_db: float | None, ssim_value: float | None) -> str:
    parts = []
    if psnr_db is not None and np.isfinite(psnr_db):
        parts.append(f"{psnr_db:.2f} dB")
    if ssim_value is not None and np.isfinite(ssim_value):
        parts.append(f"{ssim_value:.3f}")
    return " / ".join(parts)


def _measure(image: np.ndarray, truth: np.ndarray) -> tuple[float, float | None]:
    """PSNR and (frames of 11 pixels or more) SSIM of 8-bit images."""
    pair = [torch.from_numpy(a).permute(2, 0, 1)[None].to(torch.float64) for a in (image, truth)]
    value = psnr(*pair, data_range=255).item()
    big_enough = min(image.shape[:2]) >= 11
    return value, ssim(*pair, data_range=255).item() if big_enough else None


def read_rgb(path: Path) -> np.ndarray:
    """An 8-bit PNG as (H, W, 3) uint8 (grey repeated, alpha dropped)."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the evaluation that writes it")
    image = iio.imread(path)
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit image, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3]


def plot_grid(
    rows: Sequence[ImageRow], out_path: str | Path, title: str = "", dpi: int = DPI
) -> list[TileBox]:
    """Draw the grid and save it as a PNG.

    The figure is ``columns * TILE_INCHES`` wide; per image, a frame row as tall as the
    frame's aspect ratio asks and one square row per crop.

    Args:
        rows: the images, each with the same number of tiles.
        out_path: PNG to write; its folder is created.
        title: above the grid (dataset, camera).
        dpi: resolution of the saved PNG.

    Returns:
        Every tile's box in the saved PNG.
    """
    if not rows or any(len(r.tiles) != len(rows[0].tiles) for r in rows) or not rows[0].tiles:
        raise ValueError("expected a non-empty grid with the same number of tiles per image")
    columns = len(rows[0].tiles)
    heights = []
    for row in rows:
        frame = row.tiles[0].image
        heights += [TILE_INCHES * frame.shape[0] / frame.shape[1]] + [TILE_INCHES] * len(row.crops)
    figure = Figure(
        figsize=(TILE_INCHES * columns + 0.3, sum(heights) + 0.35 * (len(rows) + bool(title))),
        dpi=dpi,
        layout="constrained",
    )
    figure.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.01, hspace=0.01)
    axes = figure.subplots(
        len(heights), columns, gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    placed_axes = []
    line = 0
    for r, row in enumerate(rows):
        for c, tile in enumerate(row.tiles):
            frame_axis = axes[line][c]
            _show(frame_axis, tile.image, shown_width=round(2 * TILE_INCHES * dpi))
            frame_axis.set_title(tile.title, fontsize=8)
            for k, crop in enumerate(row.crops):
                colour = CROP_COLOURS[k % len(CROP_COLOURS)]
                frame_axis.add_patch(
                    Rectangle(
                        (crop.left - 0.5, crop.top - 0.5),
                        crop.side,
                        crop.side,
                        fill=False,
                        edgecolor=colour,
                        linewidth=1.2,
                    )
                )
                crop_axis = axes[line + 1 + k][c]
                _show(crop_axis, crop.of(tile.image), edge=colour)
                placed_axes.append((r, c, f"crop {k + 1}", crop_axis))
            if tile.scores:
                frame_axis.text(
                    0.02,
                    0.03,
                    tile.scores,
                    transform=frame_axis.transAxes,
                    color="white",
                    fontsize=6.5,
                    bbox={"facecolor": "black", "alpha": 0.65, "pad": 1.5, "edgecolor": "none"},
                )
            placed_axes.append((r, c, "frame", frame_axis))
        axes[line][0].set_ylabel(row.label, fontsize=7)
        line += 1 + len(row.crops)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.draw_without_rendering()
    height = figure.bbox.height
    boxes = []
    for r, c, part, axis in placed_axes:
        extent = axis.get_window_extent()
        boxes.append(
            TileBox(
                r,
                c,
                part,
                round(extent.x0),
                round(height - extent.y1),
                round(extent.x1),
                round(height - extent.y0),
            )
        )
    atomic.write_with(out_path, lambda handle: figure.savefig(handle, format="png", dpi=dpi))
    return sorted(boxes, key=lambda b: (b.row, b.part != "frame", b.part, b.column))


def _show(axis, image: np.ndarray, edge: str | None = None, shown_width: int | None = None) -> None:
    """Draw ``image`` (H, W, 3) in ``axis`` in its own pixel coordinates; with
    ``shown_width``, averaged down by an integer factor to at most about that many columns
    first (a 12-megapixel SID frame in a tile of a few hundred pixels)."""
    height, width = image.shape[:2]
    factor = max(1, width // shown_width) if shown_width else 1
    if factor > 1:
        rows, columns = height // factor * factor, width // factor * factor
        blocks = image[:rows, :columns].reshape(rows // factor, factor, -1, factor, 3)
        image = blocks.mean(axis=(1, 3)).round().astype(np.uint8)
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    axis.imshow(image, interpolation="antialiased", extent=extent)
    axis.set_xticks([])
    axis.set_yticks([])
    if edge is not None:
        for spine in axis.spines.values():
            spine.set_edgecolor(edge)
            spine.set_linewidth(1.5)

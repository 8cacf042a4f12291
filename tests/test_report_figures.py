"""Figure grids (frames, zoomed crops, scores), crop choice, and the per-image scatter."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from gianet.report import figures
from gianet.report.crops import Crop, crop_side, most_different, placed
from gianet.report.figures import ImageRow, Tile, figure_rows, plot_grid
from gianet.report.runs import ReportInputError, load_evaluations
from gianet.report.scatter import per_image_table, plot_scatter
from tests.conftest import report_settings
from tests.report_fixtures import HEIGHT, WIDTH, write_run

#: params.yaml's crops.
CROPS = report_settings().crops


def brute_force(a: np.ndarray, b: np.ndarray, side: int) -> tuple[int, int]:
    """The square of largest mean absolute difference, by trying every position."""
    difference = np.abs(a.astype(float) - b.astype(float)).mean(axis=2)
    best, where = -1.0, None
    for top, left in itertools.product(range(a.shape[0] - side + 1), range(a.shape[1] - side + 1)):
        total = difference[top : top + side, left : left + side].sum()
        if total > best + 1e-9:
            best, where = total, (top, left)
    return where


def test_the_crop_is_where_two_outputs_differ_most() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (23, 31, 3)).astype(np.uint8)
    b = rng.integers(0, 255, (23, 31, 3)).astype(np.uint8)
    for side in (1, 5, 9, 23):
        (crop,) = most_different(a, b, side)
        assert (crop.top, crop.left) == brute_force(a, b, side)
        assert crop.side == side


def test_further_crops_do_not_overlap_and_ties_go_top_left() -> None:
    a = np.zeros((40, 40, 3), np.uint8)
    b = a.copy()
    b[30:36, 2:8] = 200  # the largest difference
    b[5:11, 25:31] = 100  # the next
    first, second = most_different(a, b, 6, count=2)
    assert (first.top, first.left) == (30, 2) and (second.top, second.left) == (5, 25)
    assert most_different(a, a, 6)[0] == Crop(0, 0, 6)  # all equal: the top-left square
    assert len(most_different(a, b, 40, count=3)) == 1  # nothing else fits
    with pytest.raises(ValueError, match="does not fit"):
        most_different(a, b, 41)


def test_placed_crops_stay_inside_and_sizes_follow_the_shorter_side() -> None:
    assert placed((60, 90), 15, ((0.5, 0.5), (1.0, 1.0), (0.0, 0.0))) == [
        Crop(30, 45, 15),
        Crop(45, 75, 15),
        Crop(0, 0, 15),
    ]
    assert crop_side((60, 90, 3), 0.25) == 15 and crop_side((4000, 6000), 1.0) == 4000
    assert crop_side((20, 30), 0.01) == 8
    with pytest.raises(ValueError, match="crop size"):
        replace(CROPS, size=0)
    with pytest.raises(ValueError, match="fractions in"):
        replace(CROPS, corners={"x": ((1.5, 0),)})


def busy(tile: np.ndarray) -> float:
    """The fraction of a tile's pixels away from its most common colour: near 0 for a blank
    tile, even with a crop's outline or a score drawn on it."""
    pixels = tile.reshape(-1, 3).astype(int)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    mode = colours[np.argmax(counts)]
    return float((np.abs(pixels - mode).max(axis=1) > 2).mean())


@pytest.fixture
def camera_runs(tmp_path: Path):
    runs = [write_run(tmp_path, "Sony", v, samples=2) for v in ("sid_net", "gia_l1", "gia_net")]
    evaluations = load_evaluations(runs)
    return [evaluations["Sony", v][0] for v in ("sid_net", "gia_l1", "gia_net")]


def test_rows_show_input_truth_and_variants_with_their_evaluations_scores(camera_runs) -> None:
    rows = figure_rows(camera_runs, [], CROPS)
    assert [row.label for row in rows] == ["10003_00_0.1s ×100", "10003_01_0.2s ×300"]
    first = rows[0]
    assert [tile.title for tile in first.tiles] == [
        "input ×100",
        "ground truth",
        "SID-Net",
        "GIA-l1",
        "GIA-Net",
    ]
    gia = camera_runs[2].images.iloc[0]
    assert first.tiles[4].scores == f"{gia['psnr']:.2f} dB / {gia['ssim']:.3f}"
    assert first.tiles[1].scores == "" and first.tiles[0].scores.endswith(
        " dB / " + first.tiles[0].scores[-5:]
    )
    # The fixture's GIA-Net errs most at (5, 60), SID-Net at (30, 10): the crop is on one of them.
    (crop,) = first.crops
    assert crop.side == 15
    assert (crop.top, crop.left) in {
        (top, left) for top in range(5, 11) for left in range(60, 66)
    } | {(top, left) for top in range(30, 36) for left in range(10, 16)}


def test_images_and_crops_are_settings(camera_runs) -> None:
    choice = replace(CROPS, size=0.5, corners={"10003_01_0.2s": ((0.0, 0.0), (0.5, 0.5))})
    rows = figure_rows(camera_runs, ["10003_01_0.2s"], choice)
    assert len(rows) == 1 and rows[0].crops == (Crop(0, 0, 30), Crop(30, 45, 30))
    two = figure_rows(camera_runs, [], replace(CROPS, per_image=2))
    assert all(len(row.crops) == 2 for row in two)
    with pytest.raises(ReportInputError, match="10003_02_0.3s not saved by every one"):
        figure_rows(camera_runs, ["10003_02_0.3s"], CROPS)


def test_grid_size_and_no_tile_is_blank(camera_runs, tmp_path: Path) -> None:
    rows = figure_rows(camera_runs, [], replace(CROPS, per_image=2))
    dpi = 60
    boxes = plot_grid(rows, tmp_path / "figure_Sony.png", title="Sony, sid-synth", dpi=dpi)
    figure = iio.imread(tmp_path / "figure_Sony.png")[..., :3]
    columns = 5
    assert figure.shape[1] == pytest.approx((figures.TILE_INCHES * columns + 0.3) * dpi, abs=1)
    frame_height = figures.TILE_INCHES * HEIGHT / WIDTH
    expected = (2 * (frame_height + 2 * figures.TILE_INCHES) + 0.35 * 3) * dpi
    assert figure.shape[0] == pytest.approx(expected, abs=1)
    assert len(boxes) == 2 * columns * 3  # per image: a frame and two crops per column
    for box in boxes:
        tile = figure[box.y0 + 2 : box.y1 - 2, box.x0 + 2 : box.x1 - 2].astype(int)
        assert tile.size and busy(tile) > 0.5, box  # textured, as the sample images are
        assert box.x1 - box.x0 >= 0.8 * figures.TILE_INCHES * dpi
    crops = [b for b in boxes if b.part != "frame"]
    assert all(abs((b.x1 - b.x0) - (b.y1 - b.y0)) <= 2 for b in crops)  # square


def test_a_blank_tile_would_be_seen(tmp_path: Path) -> None:
    """The check above fails on a tile with nothing in it."""
    image = np.zeros((30, 45, 3), np.uint8)
    rows = [ImageRow("x", (Tile(image, "flat"),), (Crop(0, 0, 10),))]
    boxes = plot_grid(rows, tmp_path / "flat.png", dpi=40)
    figure = iio.imread(tmp_path / "flat.png")[..., :3].astype(int)
    assert all(busy(figure[b.y0 + 2 : b.y1 - 2, b.x0 + 2 : b.x1 - 2]) < 0.2 for b in boxes)
    with pytest.raises(ValueError, match="same number of tiles"):
        plot_grid([rows[0], ImageRow("y", (), ())], tmp_path / "ragged.png")


def test_per_image_table_and_scatter(tmp_path: Path) -> None:
    runs = [write_run(tmp_path, "Sony", v) for v in ("sid_net", "gia_net")]
    runs += [write_run(tmp_path, "Fuji", "sid_net")]
    runs += [write_run(tmp_path, "Sony", "gia_l1", seed=s) for s in (0, 1)]
    evaluations = load_evaluations(runs)
    table = per_image_table(evaluations, ["Sony", "Fuji"])
    assert len(table) == 12 and list(table.columns[:5]) == [
        "camera",
        "file",
        "scene",
        "shot",
        "ratio",
    ]
    sony = table[table["camera"] == "Sony"]
    gia = pd.read_csv(runs[1].metrics_csv)
    assert list(sony["psnr_gia_net"]) == pytest.approx(list(gia["psnr"]))
    seeds = [pd.read_csv(run.metrics_csv)["psnr"] for run in runs[3:]]
    assert list(sony["psnr_gia_l1"]) == pytest.approx(list((seeds[0] + seeds[1]) / 2))
    assert table[table["camera"] == "Fuji"]["psnr_gia_net"].isna().all()
    for camera in ("Sony", "Fuji"):  # Fuji has no GIA-Net: the figure says so
        out = plot_scatter(table, camera, tmp_path / f"scatter_{camera}.png", camera)
        assert iio.imread(out).shape[0] > 300

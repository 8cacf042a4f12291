"""sRGB -> camera-space raw mosaic, for the 2 x 2 Bayer and the 6 x 6 X-Trans layouts."""

import numpy as np
import pytest

from gianet.synth.cameras import CAMERAS, RGGB_PATTERN, XTRANS_PATTERN, get_camera
from gianet.synth.unprocess import (
    as_shot_neutral,
    cfa_colour_map,
    mosaic,
    sample_white_balance_gains,
    srgb_to_camera_matrix,
    srgb_to_camera_raw,
    srgb_to_linear,
    unprocess,
)


def test_inverse_srgb_curve_matches_iec_61966_values():
    values = srgb_to_linear(np.array([0.0, 0.04045, 0.5, 1.0]))
    np.testing.assert_allclose(values, [0.0, 0.04045 / 12.92, 0.214041, 1.0], rtol=1e-5)
    assert np.all(np.diff(srgb_to_linear(np.linspace(0, 1, 1001))) > 0)


@pytest.mark.parametrize("camera", sorted(CAMERAS))
def test_camera_matrix_maps_srgb_white_to_camera_white(camera):
    matrix = srgb_to_camera_matrix(get_camera(camera).xyz_to_camera)
    np.testing.assert_allclose(matrix @ np.ones(3), np.ones(3))
    # Each camera channel is most sensitive to its own sRGB primary.
    assert np.all(np.argmax(matrix, axis=1) == [0, 1, 2])


def test_white_balance_gains_and_as_shot_neutral():
    rng = np.random.default_rng(0)
    gains = np.array([sample_white_balance_gains(rng) for _ in range(200)])
    assert np.all(gains[:, 1] == 1.0) and np.all(gains[:, [0, 2]] > 1.0)
    np.testing.assert_allclose(as_shot_neutral(np.array([2.0, 1.0, 1.6])), [0.5, 1.0, 0.625])


@pytest.mark.parametrize("pattern", [RGGB_PATTERN, XTRANS_PATTERN], ids=["bayer", "xtrans"])
def test_mosaic_takes_each_pixel_from_its_filter_colour(pattern):
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(12, 18, 3)).astype(np.float32)
    result = mosaic(image, pattern)
    assert result.shape == (12, 18) and result.dtype == np.float32
    period = pattern.shape[0]
    for row in range(12):
        for col in range(18):
            assert result[row, col] == image[row, col, pattern[row % period, col % period]]


def test_xtrans_layout_has_every_colour_in_every_row_and_column():
    for axis in (0, 1):
        for line in np.moveaxis(XTRANS_PATTERN, axis, 0):
            assert set(line.tolist()) == {0, 1, 2}
    assert np.bincount(XTRANS_PATTERN.ravel()).tolist() == [8, 20, 8]


@pytest.mark.parametrize("camera", sorted(CAMERAS))
def test_grey_unprocesses_to_linear_grey_over_the_white_balance_gains(camera):
    synth = get_camera(camera)
    gains = np.array([2.0, 1.0, 1.5])
    grey = np.full((6, 12, 3), 0.5, dtype=np.float32)
    raw = unprocess(grey, synth.xyz_to_camera, gains, synth.cfa_pattern)
    colours = cfa_colour_map(synth.cfa_pattern, 6, 12)
    np.testing.assert_allclose(raw, 0.214041 / gains[colours], rtol=1e-4)


def test_saturated_srgb_colours_stay_non_negative_in_camera_space():
    corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).T.reshape(1, -1, 3).astype(np.float32)
    for camera in CAMERAS.values():
        assert srgb_to_camera_raw(corners, camera.xyz_to_camera, np.ones(3)).min() >= 0

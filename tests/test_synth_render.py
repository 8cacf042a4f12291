"""unprocess -> DNG -> rawpy postprocess gives back the scene, and our own renderer
(used for the X-Trans ground truth) agrees with rawpy."""

import numpy as np
import pytest
import rawpy

from gianet.synth.cameras import get_camera
from gianet.synth.dng import RawMetadata, write_dng
from gianet.synth.render import libraw_output_curve, libraw_white_point, render_like_libraw
from gianet.synth.unprocess import (
    as_shot_neutral,
    mosaic,
    srgb_to_camera_matrix,
    srgb_to_camera_raw,
)

SID_POSTPROCESS = dict(use_camera_wb=True, half_size=False, no_auto_bright=True, output_bps=16)
PATCHES = np.array(
    [[0.5, 0.5, 0.5], [0.8, 0.2, 0.15], [0.2, 0.7, 0.25], [0.15, 0.3, 0.8], [0.9, 0.85, 0.3]],
    dtype=np.float32,
)
PATCH_SIDE = 24


def _patch_scene() -> np.ndarray:
    """(24, 120, 3) sRGB: five flat patches side by side."""
    return np.repeat(PATCHES, PATCH_SIDE, axis=0)[None].repeat(PATCH_SIDE, axis=0)


def _patch_means(image: np.ndarray) -> np.ndarray:
    """(5, 3) mean of each patch's centre (away from demosaicking edges)."""
    margin = 6
    return np.array(
        [
            image[margin:-margin, i * PATCH_SIDE + margin : (i + 1) * PATCH_SIDE - margin]
            .reshape(-1, 3)
            .mean(axis=0)
            for i in range(len(PATCHES))
        ]
    )


def _round_trip(tmp_path, camera: str, level: float):
    """Unprocess the patches, write the DNG, render with rawpy and with render_like_libraw."""
    synth = get_camera(camera)
    gains = np.array([2.1, 1.0, 1.7])
    camera_raw = srgb_to_camera_raw(_patch_scene(), synth.xyz_to_camera, gains)
    clean = mosaic(camera_raw, synth.cfa_pattern)
    scale = level * (synth.white_level - synth.black_level) / clean.max()
    raw = np.clip(np.round(clean * scale) + synth.black_level, 0, synth.white_level)
    raw = raw.astype(np.uint16)
    meta = RawMetadata(
        synth.cfa_pattern,
        synth.black_level,
        synth.white_level,
        synth.xyz_to_camera,
        as_shot_neutral(gains),
        10.0,
        100,
        8.0,
        synth.model,
    )
    write_dng(tmp_path / "patches.dng", raw, meta)
    options = dict(SID_POSTPROCESS)
    if camera == "Fuji":  # LibRaw's default X-Trans demosaic fails on DNG; LINEAR works
        options["demosaic_algorithm"] = rawpy.DemosaicAlgorithm.LINEAR
    with rawpy.imread(str(tmp_path / "patches.dng")) as dng:
        by_rawpy = dng.postprocess(**options)
    white_point = libraw_white_point(raw, synth.black_level, synth.white_level)
    ours = render_like_libraw(
        camera_raw * (scale / white_point), gains, srgb_to_camera_matrix(synth.xyz_to_camera)
    )
    return _patch_means(by_rawpy.astype(np.float64)), _patch_means(ours.astype(np.float64))


# level 0.6: white point = file white; 0.9: LibRaw adjusts it to the data maximum;
# 1.2: the brightest patch clips at white.
@pytest.mark.parametrize(
    ("camera", "level"), [("Sony", 0.6), ("Sony", 0.9), ("Sony", 1.2), ("Fuji", 0.6)]
)
def test_our_renderer_matches_rawpy_postprocess(tmp_path, camera, level):
    by_rawpy, ours = _round_trip(tmp_path, camera, level)
    np.testing.assert_allclose(ours, by_rawpy, atol=0.004 * 65535)


def test_round_trip_keeps_grey_neutral_and_colours_in_order(tmp_path):
    by_rawpy, _ = _round_trip(tmp_path, "Sony", 0.6)
    grey = by_rawpy[0]
    assert np.ptp(grey) < 0.01 * grey.mean()
    # Each colour patch keeps the ordering of its sRGB channels.
    for patch, srgb in zip(by_rawpy[1:], PATCHES[1:], strict=True):
        assert np.array_equal(np.argsort(patch), np.argsort(srgb))


def test_output_curve_is_bt709_shaped():
    # LibRaw's gamma (2.222, 4.5): slope 4.5 up to 0.01805, then 1.09926 x^(1/2.222) - 0.09926,
    # the BT.709 curve (0.018, 1.099 x^0.45 - 0.099) to 4 digits.
    x = np.array([0.0, 0.01, 0.018, 0.1, 0.5, 1.0])
    expected = np.where(x < 0.018050, 4.5 * x, 1.099258 * x ** (1 / 2.222) - 0.099258)
    np.testing.assert_allclose(libraw_output_curve(x) / 65536, expected, atol=2e-5)
    assert libraw_output_curve(np.array([2.0]))[0] == 65535


def test_white_point_follows_libraw_adjust_maximum_rule():
    flat = np.full((2, 2), 512, dtype=np.uint16)
    assert libraw_white_point(flat + 10000, 512, 16383) == 15871  # below 0.75: unchanged
    assert libraw_white_point(flat + 14000, 512, 16383) == 14000  # 0.75-1: data maximum
    assert libraw_white_point(flat + 15871, 512, 16383) == 15871  # clipped: unchanged

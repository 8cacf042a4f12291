"""DNG files from pidng read back by rawpy bit-exact, with the tags as written."""

import numpy as np
import pytest
import rawpy
import tifffile

from gianet.synth.cameras import get_camera
from gianet.synth.dng import RawMetadata, encode_dng, write_dng


def _metadata(camera: str, gains=(2.0, 1.0, 1.6)) -> RawMetadata:
    synth = get_camera(camera)
    return RawMetadata(
        cfa_pattern=synth.cfa_pattern,
        black_level=synth.black_level,
        white_level=synth.white_level,
        xyz_to_camera=synth.xyz_to_camera,
        as_shot_neutral=1 / np.array(gains),
        exposure_time=0.033,
        iso=1600,
        f_number=5.6,
        model=synth.model,
    )


def _random_mosaic(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 16384, (height, width), dtype=np.uint16)


def test_bayer_dng_reads_back_bit_exact_with_levels_and_white_balance(tmp_path):
    mosaic = _random_mosaic(64, 90)
    path = tmp_path / "bayer.dng"
    write_dng(path, mosaic, _metadata("Sony"))
    with rawpy.imread(str(path)) as raw:
        assert np.array_equal(raw.raw_image, mosaic)
        assert raw.raw_pattern.tolist() == [[0, 1], [3, 2]]  # RGGB, rawpy's second green is 3
        assert raw.black_level_per_channel == [512] * 4
        assert raw.white_level == 16383
        np.testing.assert_allclose(raw.camera_whitebalance[:3], [2.0, 1.0, 1.6], rtol=1e-5)


def test_xtrans_dng_reads_back_with_its_6x6_pattern(tmp_path):
    mosaic = _random_mosaic(48, 72, seed=1)
    path = tmp_path / "xtrans.dng"
    write_dng(path, mosaic, _metadata("Fuji"))
    with rawpy.imread(str(path)) as raw:
        assert np.array_equal(raw.raw_image, mosaic)
        assert np.array_equal(raw.raw_pattern, get_camera("Fuji").cfa_pattern)
        assert raw.black_level_per_channel == [1024] * 4
        assert raw.white_level == 16383


def test_exif_and_colour_tags_are_written(tmp_path):
    path = tmp_path / "tags.dng"
    path.write_bytes(encode_dng(_random_mosaic(4, 6), _metadata("Sony")))
    with tifffile.TiffFile(path) as tif:
        tags = {tag.name: tag.value for tag in tif.pages[0].tags.values()}
    assert tags["Make"] == "gianet" and tags["Model"] == "sid-synth Sony-like"
    assert tags["ISOSpeedRatings"] == 1600
    assert tags["ExposureTime"] == (33, 1000)
    assert tags["FNumber"] == (28, 5)
    assert tags["ColorMatrix1"][:6] == (5838, 10000, -1430, 10000, -246, 10000)
    assert tags["AsShotNeutral"] == (500000, 1000000, 1000000, 1000000, 625000, 1000000)


def test_mosaic_of_the_wrong_size_or_type_is_rejected():
    with pytest.raises(ValueError, match="multiple of the CFA period"):
        encode_dng(_random_mosaic(48, 70), _metadata("Fuji"))
    with pytest.raises(ValueError, match="uint16"):
        encode_dng(np.zeros((4, 4), dtype=np.float32), _metadata("Sony"))

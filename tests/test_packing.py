"""Packing by the file's own CFA: hand-made mosaics, SID's own code, and real camera files."""

import math

import numpy as np
import pytest
import rawpy

from gianet.data.raw import Mosaic, RawError, pack, read_ground_truth, read_mosaic, with_levels
from gianet.data.tensors import amplify
from gianet.data.xtrans import pack_xtrans, sid_xtrans_pattern
from gianet.synth.cameras import get_camera
from gianet.synth.dng import RawMetadata, write_dng
from tests.conftest import COLORCHART, optional_raw

BAYER = {
    "RGGB": [[0, 1], [1, 2]],
    "GRBG": [[1, 0], [2, 1]],
    "BGGR": [[2, 1], [1, 0]],
    "GBRG": [[1, 2], [0, 1]],
}


def labelled_mosaic(pattern: np.ndarray, height: int, width: int) -> np.ndarray:
    """Mosaic whose value encodes colour (thousands) and position: 1000 * (colour + 1) + k."""
    period = pattern.shape[0]
    colours = np.tile(pattern, (height // period, width // period))
    index = np.arange(height * width).reshape(height, width) % 997
    return (1000 * (colours.astype(np.int64) + 1) + index).astype(np.uint16)


@pytest.mark.parametrize("name", BAYER)
def test_bayer_packs_r_g_b_g_whatever_the_pattern(name):
    pattern = np.array(BAYER[name], dtype=np.uint8)
    data = labelled_mosaic(pattern, 8, 12)
    mosaic = Mosaic(data, pattern, np.full((2, 2), 0, np.float32), 16383)
    packed, scale = pack(mosaic)
    assert packed.shape == (4, 4, 6)
    assert list(packed.max(axis=(1, 2)) // 1000) == [1, 2, 3, 2]  # R, G, B, G
    assert np.all(packed // 1000 == np.array([1, 2, 3, 2])[:, None, None])
    r_row, r_col = np.argwhere(pattern == 0)[0]
    assert np.array_equal(packed[0], data[r_row::2, r_col::2])
    # The first green shares the red's row, as in SID's [0::2, 1::2] for RGGB.
    assert np.array_equal(packed[1], data[r_row::2, 1 - r_col :: 2])
    assert np.allclose(scale, 16383)


def test_bayer_subtracts_black_per_position_and_clips_at_zero():
    pattern = np.array(BAYER["RGGB"], dtype=np.uint8)
    data = np.full((4, 4), 600, np.uint16)
    data[0, 0] = 100
    black = np.array([[512, 500], [500, 400]], np.float32)
    packed, scale = pack(Mosaic(data, pattern, black, 16383))
    assert packed[0, 0, 0] == 0 and packed[0, 1, 1] == 88
    assert packed[1, 0, 0] == 100 and packed[2, 0, 0] == 200
    assert scale.tolist() == [16383 - 512, 16383 - 500, 16383 - 400, 16383 - 500]


def sid_fuji_pack(im: np.ndarray) -> np.ndarray:
    """SID's train_Fuji.py pack_raw, transcribed (levels left out), as (9, H/3, W/3)."""
    H, W = (im.shape[0] // 6) * 6, (im.shape[1] // 6) * 6
    out = np.zeros((H // 3, W // 3, 9), im.dtype)
    out[0::2, 0::2, 0] = im[0:H:6, 0:W:6]
    out[0::2, 1::2, 0] = im[0:H:6, 4:W:6]
    out[1::2, 0::2, 0] = im[3:H:6, 1:W:6]
    out[1::2, 1::2, 0] = im[3:H:6, 3:W:6]
    out[0::2, 0::2, 1] = im[0:H:6, 2:W:6]
    out[0::2, 1::2, 1] = im[0:H:6, 5:W:6]
    out[1::2, 0::2, 1] = im[3:H:6, 2:W:6]
    out[1::2, 1::2, 1] = im[3:H:6, 5:W:6]
    out[0::2, 0::2, 2] = im[0:H:6, 1:W:6]
    out[0::2, 1::2, 2] = im[0:H:6, 3:W:6]
    out[1::2, 0::2, 2] = im[3:H:6, 0:W:6]
    out[1::2, 1::2, 2] = im[3:H:6, 4:W:6]
    out[0::2, 0::2, 3] = im[1:H:6, 2:W:6]
    out[0::2, 1::2, 3] = im[2:H:6, 5:W:6]
    out[1::2, 0::2, 3] = im[5:H:6, 2:W:6]
    out[1::2, 1::2, 3] = im[4:H:6, 5:W:6]
    out[0::2, 0::2, 4] = im[2:H:6, 2:W:6]
    out[0::2, 1::2, 4] = im[1:H:6, 5:W:6]
    out[1::2, 0::2, 4] = im[4:H:6, 2:W:6]
    out[1::2, 1::2, 4] = im[5:H:6, 5:W:6]
    out[:, :, 5] = im[1:H:3, 0:W:3]
    out[:, :, 6] = im[1:H:3, 1:W:3]
    out[:, :, 7] = im[2:H:3, 0:W:3]
    out[:, :, 8] = im[2:H:3, 1:W:3]
    return out.transpose(2, 0, 1)


def test_xtrans_matches_sid_code_and_groups_colours():
    pattern = sid_xtrans_pattern()
    assert sorted(np.bincount(pattern.ravel()).tolist()) == [8, 8, 20]  # 20 G, 8 R, 8 B
    data = labelled_mosaic(pattern, 24, 30)
    packed, scale = pack_xtrans(data, pattern, np.zeros((6, 6), np.float32), 16383)
    assert packed.shape == (9, 8, 10)
    assert np.array_equal(packed, sid_fuji_pack(data))
    colours = packed // 1000 - 1
    assert [int(np.unique(c)[0]) for c in colours] == [0, 1, 2, 0, 2, 1, 1, 1, 1]
    assert np.all(colours == colours[:, :1, :1])


def test_xtrans_at_another_phase_is_aligned_to_sid_tile_first():
    pattern = sid_xtrans_pattern()
    data = labelled_mosaic(pattern, 30, 36)
    shifted_data = data[2:, 1:]  # the file starts 2 rows and 1 column into the tile
    shifted_pattern = np.roll(pattern, (-2, -1), axis=(0, 1))
    packed, _ = pack_xtrans(shifted_data, shifted_pattern, np.zeros((6, 6), np.float32), 16383)
    # X-Trans repeats under a (3, 3) shift, so the nearest aligned start is data[3:, 3:].
    assert np.array_equal(np.roll(pattern, (3, 3), axis=(0, 1)), pattern)
    expected = sid_fuji_pack(data[3:, 3:])
    assert np.array_equal(packed, expected[:, : packed.shape[1], : packed.shape[2]])


def sid_sony_pack_raw(raw) -> np.ndarray:
    """SID's train_Sony.py pack_raw, transcribed: (H/2, W/2, 4) float32."""
    im = raw.raw_image_visible.astype(np.float32)
    im = np.maximum(im - 512, 0) / (16383 - 512)  # subtract the black level

    im = np.expand_dims(im, axis=2)
    img_shape = im.shape
    H = img_shape[0]
    W = img_shape[1]

    out = np.concatenate(
        (im[0:H:2, 0:W:2, :], im[0:H:2, 1:W:2, :], im[1:H:2, 1:W:2, :], im[1:H:2, 0:W:2, :]),
        axis=2,
    )
    return out


def sid_fuji_pack_raw(raw) -> np.ndarray:
    """SID's train_Fuji.py pack_raw, transcribed: its levels, then the layout of
    :func:`sid_fuji_pack` (SID fills a float64 array with these float32 values)."""
    im = raw.raw_image_visible.astype(np.float32)
    im = np.maximum(im - 1024, 0) / (16383 - 1024)  # subtract the black level
    return sid_fuji_pack(im).transpose(1, 2, 0)


def ours_as_sid(path, levels: str) -> np.ndarray:
    """Our cache's packing with ``levels``, amplified by 1 as training does: (H', W', C)."""
    packed, scale = pack(with_levels(read_mosaic(path), levels))
    return amplify(packed, scale, 1.0, math.inf).numpy().transpose(1, 2, 0)


@pytest.fixture(scope="module")
def xtrans_raw(tmp_path_factory):
    """An X-Trans DNG at SID's phase whose own levels (black 800, white 15000) are not SID's."""
    fuji = get_camera("Fuji")
    mosaic = np.random.default_rng(5).integers(0, 15001, (48, 72), dtype=np.uint16)
    meta = RawMetadata(
        cfa_pattern=sid_xtrans_pattern(),
        black_level=800,
        white_level=15000,
        xyz_to_camera=fuji.xyz_to_camera,
        as_shot_neutral=np.array([0.5, 1.0, 0.6]),
        exposure_time=0.1,
        iso=800,
        f_number=5.6,
        model=fuji.model,
    )
    path = tmp_path_factory.mktemp("xtrans") / "xtrans_levels.dng"
    write_dng(path, mosaic, meta)
    return path


def test_sid_levels_reproduce_sids_pack_raw_exactly_on_bayer_and_xtrans(xtrans_raw):
    for path, sid_pack_raw, own in (
        (COLORCHART, sid_sony_pack_raw, (2056, 15000)),
        (xtrans_raw, sid_fuji_pack_raw, (800, 15000)),
    ):
        mosaic = read_mosaic(path)
        assert np.all(mosaic.black == own[0]) and mosaic.white == own[1]  # not SID's
        with rawpy.imread(str(path)) as raw:
            expected = sid_pack_raw(raw)
        ours = ours_as_sid(path, "sid")
        assert ours.dtype == np.float32 and ours.shape == expected.shape
        assert np.array_equal(ours, expected.astype(np.float32)), path
        assert np.array_equal(expected.astype(np.float32), expected)  # float32 values
        assert not np.array_equal(ours_as_sid(path, "file"), ours)  # the file's own differ


def test_sid_levels_are_one_black_per_cfa_and_unknown_levels_are_refused(xtrans_raw):
    bayer = with_levels(read_mosaic(COLORCHART), "sid")
    assert np.all(bayer.black == 512) and bayer.black.shape == (2, 2) and bayer.white == 16383
    xtrans = with_levels(read_mosaic(xtrans_raw), "sid")
    assert np.all(xtrans.black == 1024) and xtrans.black.shape == (6, 6)
    assert with_levels(read_mosaic(COLORCHART), "file").white == 15000
    with pytest.raises(ValueError, match="levels must be one of sid, file"):
        with_levels(bayer, "camera")


def test_real_colorchart_dng_is_rggb_with_black_2056():
    mosaic = read_mosaic(COLORCHART)
    assert mosaic.pattern_name == "RGGB"
    assert np.all(mosaic.black == 2056) and mosaic.white == 15000
    packed, scale = pack(mosaic)
    assert packed.shape == (4, 578, 867)
    with rawpy.imread(str(COLORCHART)) as raw:
        visible = raw.raw_image_visible.astype(np.int32)
    assert np.array_equal(packed[0], np.clip(visible[0:1156:2, 0:1734:2] - 2056, 0, None))
    assert np.array_equal(packed[3], np.clip(visible[1:1156:2, 0:1734:2] - 2056, 0, None))
    assert np.allclose(scale, 15000 - 2056)


def test_real_grbg_pixels_pack_into_the_same_channels_as_rggb(grbg_raw):
    mosaic = read_mosaic(grbg_raw)  # colorchart's pixels from column 1: G R / B G
    assert mosaic.pattern_name == "GRBG"
    assert np.all(mosaic.black == 2056) and mosaic.white == 15000
    packed, scale = pack(mosaic)
    assert packed.shape == (4, 256, 384)
    rggb, rggb_scale = pack(read_mosaic(COLORCHART))
    # Red sits in column 1 of the GRBG file, column 2 of colorchart: one packed column on.
    assert np.array_equal(packed[0], rggb[0, :256, 1:385])
    assert np.array_equal(packed[1], rggb[1, :256, 0:384])
    assert np.array_equal(packed[2], rggb[2, :256, 0:384])
    assert np.array_equal(packed[3], rggb[3, :256, 1:385])
    assert np.array_equal(scale, rggb_scale)


def test_real_kodak_kdc_with_a_non_ascii_name_is_grbg():
    mosaic = read_mosaic(optional_raw("RAW_KODAK_DC50_é.KDC"))
    assert mosaic.pattern_name == "GRBG"
    packed, _ = pack(mosaic)
    assert packed.shape == (4, 256, 384)
    assert np.array_equal(packed[0], mosaic.data[0::2, 1::2])
    assert np.array_equal(packed[2], mosaic.data[1::2, 0::2])


def test_real_kodak_c330_is_not_a_mosaic_and_is_refused():
    path = optional_raw("marginal/RAW_KODAK_C330_FORMAT_NONE_YRGB.raw")
    with pytest.raises(RawError, match="no colour-filter mosaic") as error:
        read_mosaic(path)
    assert str(path) in str(error.value)


def test_truncated_raw_is_refused_naming_the_file(tmp_path):
    broken = tmp_path / "00001_00_0.1s.dng"
    broken.write_bytes(COLORCHART.read_bytes()[:1_000_000])
    with pytest.raises(RawError, match="truncated") as error:
        read_mosaic(broken)
    assert str(broken) in str(error.value)
    with pytest.raises(RawError):
        read_ground_truth(broken)


def test_a_file_that_is_no_raw_is_refused(tmp_path):
    text = tmp_path / "notes.ARW"
    text.write_text("this is not a raw file\n" * 100)
    with pytest.raises(RawError, match="notes.ARW"):
        read_mosaic(text)


def test_ground_truth_from_raw_uses_sid_postprocess_and_16_bit_images_load(tmp_path, grbg_raw):
    import imageio.v3 as iio

    gt = read_ground_truth(grbg_raw)
    assert gt.dtype == np.uint16 and gt.shape == (3, 512, 768)
    image = (np.arange(2 * 3 * 3) * 7000).reshape(2, 3, 3).astype(np.uint16)
    iio.imwrite(tmp_path / "gt.tif", image)
    assert np.array_equal(read_ground_truth(tmp_path / "gt.tif"), image.transpose(2, 0, 1))
    iio.imwrite(tmp_path / "gt8.png", (image // 257).astype(np.uint8))
    with pytest.raises(RawError, match="16-bit"):
        read_ground_truth(tmp_path / "gt8.png")

"""The pieces of `gianet enhance` that need no network: 16-bit image files, exposure times
of real raw files, and the tile grid."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from torchvision.io import ImageReadMode, decode_png

from gianet.data import exposure
from gianet.data.exposure import exposure_time_tag, libraw_shutter_time, read_exposure
from gianet.inference.image16 import encode_png16, write_rgb16
from gianet.inference.tiling import tile_spans
from tests.conftest import COLORCHART, GRBG_EXPOSURE, optional_raw

DC50 = "RAW_KODAK_DC50_é.KDC"
# torchvision's PNG decoder (libpng) is deprecated in favour of TorchCodec but still the one
# reader in the environment that keeps 16-bit RGB (Pillow reads it as 8-bit).
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


def decode_png16(data: bytes) -> np.ndarray:
    """Decode with libpng (torchvision), an independent reader that keeps 16 bits."""
    decoded = decode_png(
        torch.frombuffer(bytearray(data), dtype=torch.uint8), ImageReadMode.UNCHANGED
    )
    return decoded.permute(1, 2, 0).numpy()


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    image = np.random.default_rng(seed).integers(0, 65536, (height, width, 3), dtype=np.uint16)
    image[0, 0] = (0, 65535, 1)
    return image


@pytest.mark.parametrize(("height", "width"), [(1, 1), (7, 13), (64, 3)])
def test_png16_round_trips_exactly_through_libpng(height, width):
    image = random_image(height, width)
    decoded = decode_png16(encode_png16(image))
    assert decoded.dtype == np.uint16
    assert np.array_equal(decoded, image)


def test_png16_accepts_non_contiguous_views_and_compresses_smooth_images():
    ramp = np.broadcast_to(np.arange(0, 65536, 64, dtype=np.uint16)[:, None, None], (1024, 8, 3))
    view = ramp.transpose(1, 0, 2)  # (8, 1024, 3), not C-contiguous
    data = encode_png16(view)
    assert np.array_equal(decode_png16(data), view)
    # The Sub filter turns the ramp into constant differences, so zlib shrinks it far below
    # the raw 48 KiB.
    assert len(data) < view.nbytes / 20


def test_png16_refuses_other_dtypes_and_shapes():
    with pytest.raises(ValueError, match="uint16"):
        encode_png16(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        encode_png16(np.zeros((4, 4), np.uint16))


@pytest.mark.parametrize("suffix", [".png", ".tif", ".TIFF"])
def test_write_rgb16_round_trips_and_leaves_no_partial_file(tmp_path, suffix):
    image = random_image(9, 11, seed=1)
    path = write_rgb16(tmp_path / "sub" / f"out{suffix}", image)
    data = path.read_bytes()
    read = decode_png16(data) if suffix == ".png" else tifffile.imread(path)
    assert np.array_equal(read, image)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_write_rgb16_refuses_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.tif"):
        write_rgb16(tmp_path / "out.jpg", random_image(2, 2))
    assert not list(tmp_path.iterdir())


def test_exposure_from_the_ifd0_tag_of_a_kodak_kdc():
    found = read_exposure(optional_raw(DC50))
    assert found is not None and found.source == "ExposureTime tag"
    assert found.seconds == pytest.approx(1 / 230, rel=1e-3)


def test_exposure_from_the_exif_ifd_of_a_gopro_dng():
    found = read_exposure(optional_raw("GOPR0024.DNG"))
    assert found is not None and found.source == "ExposureTime tag"
    assert found.seconds == pytest.approx(1 / 455)


def test_a_recorded_zero_exposure_is_unknown_although_libraw_claims_one_second():
    path = COLORCHART
    assert exposure_time_tag(path) == 0.0
    # LibRaw turns the APEX ShutterSpeedValue 0 into 2**-0 = 1 s: not to be trusted.
    assert libraw_shutter_time(path) == 1.0
    assert read_exposure(path) is None


def test_a_sid_style_name_wins_over_the_file(tmp_path):
    link = tmp_path / "10003_00_0.1s.dng"
    link.symlink_to(COLORCHART)
    assert read_exposure(link) == exposure.Exposure(0.1, "file name")


def test_exposure_from_the_tag_of_a_dng(grbg_raw):
    found = read_exposure(grbg_raw)
    assert found == exposure.Exposure(GRBG_EXPOSURE, "ExposureTime tag")


def test_libraw_shutter_time_when_the_file_is_not_tiff(monkeypatch, grbg_raw):
    monkeypatch.setattr(exposure, "exposure_time_tag", lambda path: None)
    found = read_exposure(grbg_raw)
    assert found is not None and found.source == "LibRaw shutter time"
    assert found.seconds == pytest.approx(GRBG_EXPOSURE, rel=1e-6)


def test_non_tiff_file_without_shutter_time_is_unknown():
    path = optional_raw("marginal/RAW_KODAK_C330_FORMAT_NONE_YRGB.raw")
    assert exposure_time_tag(path) is None
    assert read_exposure(path) is None


def test_unreadable_file_has_no_exposure(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a raw file")
    assert read_exposure(path) is None


@pytest.mark.parametrize("length", [1, 100, 127, 128, 129, 578, 1000])
def test_tile_cores_partition_the_axis_and_windows_stay_aligned(length):
    tile, margin = 224, 48
    spans = tile_spans(length, tile, margin)
    assert spans[0][2] == 0 and spans[-1][3] == length
    assert [span[2] for span in spans[1:]] == [span[3] for span in spans[:-1]]
    for start, end, core_start, core_end in spans:
        assert start % 16 == 0 and end - start <= tile
        assert start == max(0, core_start - margin) and end == min(length, core_end + margin)
        assert end == length or (end - start) % 16 == 0


def test_tile_spans_refuse_misaligned_or_too_small_tiles():
    for tile, margin in [(200, 48), (224, 40), (192, 96)]:
        with pytest.raises(ValueError, match="multiples of 16"):
            tile_spans(500, tile, margin)

"""Reading camera raw files through rawpy and packing their mosaics, as SID does.

Bayer mosaics pack into 4 channels at half resolution in SID's order R, G, B, G (for an RGGB
sensor: ``[0::2,0::2], [0::2,1::2], [1::2,1::2], [1::2,0::2]``); the positions come from the
file's own CFA pattern, so GRBG, BGGR and GBRG sensors pack into the same channel order.
X-Trans mosaics pack into 9 channels at a third of the resolution (see :mod:`xtrans`).
Black and white levels come from the file, or from the constants SID's code writes for its
two cameras (:data:`SID_LEVELS`, :func:`with_levels`). Ground truth is rawpy's postprocess of
the long exposure with SID's settings, or a 16-bit image file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rawpy

from gianet.data.xtrans import XTRANS_PERIOD, pack_xtrans
from gianet.domain.cameras import CAMERAS
from gianet.errors import GianetError, one_line

#: rawpy.postprocess settings of SID's code for the long-exposure ground truth.
SID_POSTPROCESS = {
    "use_camera_wb": True,
    "half_size": False,
    "no_auto_bright": True,
    "output_bps": 16,
}

GROUND_TRUTH_IMAGE_SUFFIXES = (".png", ".tif", ".tiff")

#: Black and white levels SID's code writes as constants, by CFA: ``pack_raw`` of
#: ``train_Sony.py`` / ``test_Sony.py`` (Sony α7S II, Bayer: 512 and 16383) and of
#: ``train_Fuji.py`` / ``test_Fuji.py`` (Fuji X-T2, X-Trans: 1024 and 16383).
SID_LEVELS: dict[str, tuple[int, int]] = {c.cfa.name: c.sid_levels for c in CAMERAS.values()}
#: Where packing takes the levels from (``sid.levels``): SID's constants or each file's own.
LEVELS = ("sid", "file")


class RawError(GianetError, ValueError):
    """A file cannot be used as a raw mosaic; the message names the file and the fix."""


@dataclass(frozen=True)
class Mosaic:
    """A raw colour-filter mosaic with its levels.

    Attributes:
        data: (H, W) uint16 raw values of the visible area.
        pattern: (P, P) colour of each CFA position, 0 = R, 1 = G, 2 = B (P is 2 or 6).
        black: (P, P) black level of each CFA position, in raw units.
        white: saturation level in raw units.
    """

    data: np.ndarray
    pattern: np.ndarray
    black: np.ndarray
    white: int

    @property
    def cfa(self) -> str:
        """``"bayer"`` or ``"xtrans"``."""
        return "bayer" if self.pattern.shape == (2, 2) else "xtrans"

    @property
    def pattern_name(self) -> str:
        """Bayer pattern as letters (``"RGGB"``), or ``"X-Trans"``."""
        if self.cfa == "xtrans":
            return "X-Trans"
        return "".join("RGB"[c] for c in self.pattern.ravel())


def _open_error(path: Path, exc: Exception) -> RawError:
    if not path.exists():
        return RawError(f"{path}: no such file; check the path (or restore the file)")
    if path.is_dir():
        return RawError(f"{path}: is a folder, not a raw file; give the file's path")
    return RawError(
        f"{path}: cannot be read as a camera raw file ({type(exc).__name__}: {one_line(exc)}). "
        "It may be truncated or not a raw file at all: download or copy it again, or "
        "remove it from the split list."
    )


def read_mosaic(path: str | Path) -> Mosaic:
    """Decode the visible raw mosaic of ``path`` (anything rawpy reads: ARW, RAF, DNG ...).

    Raises:
        RawError: the file is unreadable or truncated, or holds no 2x2 Bayer / 6x6 X-Trans
            mosaic (for example already-interpolated data such as Kodak's YRGB format).
    """
    path = Path(path)
    try:
        with rawpy.imread(str(path)) as raw:
            data = np.array(raw.raw_image_visible, dtype=np.uint16, copy=True)
            raw_pattern = raw.raw_pattern
            color_desc = raw.color_desc.decode("ascii", "replace")
            black_per_channel = list(raw.black_level_per_channel)
            white = int(raw.white_level)
    except (rawpy.LibRawError, OSError) as exc:
        raise _open_error(path, exc) from None
    if raw_pattern is None or data.ndim != 2:
        raise RawError(
            f"{path}: holds no colour-filter mosaic (rawpy reports raw_pattern={raw_pattern}, "
            f"raw image shape {data.shape}); gianet needs a Bayer or X-Trans raw as the "
            "camera wrote it."
        )
    period = raw_pattern.shape[0]
    if raw_pattern.shape not in ((2, 2), (XTRANS_PERIOD, XTRANS_PERIOD)):
        raise RawError(f"{path}: unsupported CFA pattern of shape {raw_pattern.shape}")
    letters = np.array([color_desc[i] for i in raw_pattern.ravel()]).reshape(period, period)
    if not set(letters.ravel()) <= set("RGB"):
        raise RawError(f"{path}: CFA colours {color_desc!r} are not R, G, B (e.g. CMYG sensor)")
    pattern = np.select([letters == "R", letters == "G", letters == "B"], [0, 1, 2]).astype(
        np.uint8
    )
    black = np.array(black_per_channel, dtype=np.float32)[raw_pattern]
    return Mosaic(data=data, pattern=pattern, black=black, white=white)


def with_levels(mosaic: Mosaic, levels: str) -> Mosaic:
    """``mosaic`` with the black and white levels ``levels`` names.

    Args:
        mosaic: as :func:`read_mosaic` returns it, with the file's own levels.
        levels: ``"file"`` keeps them; ``"sid"`` puts SID's constants for the mosaic's CFA
            (:data:`SID_LEVELS`) in their place, one black level for every CFA position, as
            SID's ``pack_raw`` subtracts it.

    Raises:
        ValueError: ``levels`` is neither.
    """
    if levels not in LEVELS:
        raise ValueError(f"levels must be one of {', '.join(LEVELS)}, got {levels!r}")
    if levels == "file":
        return mosaic
    black, white = SID_LEVELS[mosaic.cfa]
    return replace(mosaic, black=np.full_like(mosaic.black, black), white=white)


def _bayer_offsets(pattern: np.ndarray) -> list[tuple[int, int]]:
    """(row, col) of R, first G, B, second G in a 2x2 pattern (SID's channel order)."""
    positions = [(r, c) for r in range(2) for c in range(2)]
    reds = [p for p in positions if pattern[p] == 0]
    greens = [p for p in positions if pattern[p] == 1]
    blues = [p for p in positions if pattern[p] == 2]
    if (len(reds), len(greens), len(blues)) != (1, 2, 1):
        raise RawError(f"not a Bayer pattern: {pattern.tolist()} (need one R, two G, one B)")
    # SID's order for RGGB is R(0,0), G(0,1), B(1,1), G(1,0): the green sharing R's row first.
    greens.sort(key=lambda p: p[0] != reds[0][0])
    return [reds[0], greens[0], blues[0], greens[1]]


def pack_bayer(mosaic: Mosaic) -> tuple[np.ndarray, np.ndarray]:
    """Pack a Bayer mosaic, black level subtracted, keeping raw units.

    Returns:
        packed: (4, H/2, W/2) uint16, ``max(raw - black, 0)`` in channel order R, G, B, G
            (odd H or W lose their last row or column).
        scale: (4,) float32 ``white - black`` per channel; ``packed / scale`` lies in [0, 1].
    """
    height, width = (s - s % 2 for s in mosaic.data.shape)
    channels, scales = [], []
    for row, col in _bayer_offsets(mosaic.pattern):
        plane = mosaic.data[row:height:2, col:width:2].astype(np.int32)
        black = mosaic.black[row, col]
        channels.append(np.clip(plane - black, 0, None).astype(np.uint16))
        scales.append(mosaic.white - black)
    return np.stack(channels), np.array(scales, dtype=np.float32)


def pack(mosaic: Mosaic) -> tuple[np.ndarray, np.ndarray]:
    """Pack by the mosaic's own CFA: Bayer -> (4, H/2, W/2), X-Trans -> (9, H/3, W/3).

    Returns ``(packed uint16 above black, per-channel scale float32)``; see :func:`pack_bayer`.
    """
    if mosaic.cfa == "bayer":
        return pack_bayer(mosaic)
    return pack_xtrans(mosaic.data, mosaic.pattern, mosaic.black, mosaic.white)


def normalise(packed: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Packed raw units to [0, 1]: ``packed / scale`` per channel, float32, clipped at 1."""
    return np.minimum(packed.astype(np.float32) / scale[:, None, None], 1.0)


def read_ground_truth(path: str | Path) -> np.ndarray:
    """Ground truth as (3, H, W) uint16 sRGB.

    A raw file is rendered with rawpy's postprocess and SID's settings (camera white balance,
    no auto brightness, 16 bits); a ``.png``/``.tif`` is read as a 16-bit RGB image.
    """
    path = Path(path)
    if path.suffix.lower() in GROUND_TRUTH_IMAGE_SUFFIXES:
        import imageio.v3 as iio

        try:
            image = iio.imread(path)
        except Exception as exc:  # imageio raises many types for broken files
            raise RawError(
                f"{path}: cannot be read as a ground-truth image ({one_line(exc)})"
            ) from None
        if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
            raise RawError(
                f"{path}: ground-truth images must be 16-bit RGB, got {image.dtype} "
                f"{image.shape}; write it with 16 bits per channel"
            )
        return np.ascontiguousarray(image.transpose(2, 0, 1))
    try:
        with rawpy.imread(str(path)) as raw:
            if raw.raw_pattern is None:
                raise RawError(f"{path}: holds no colour-filter mosaic; cannot render it as SID")
            rgb = raw.postprocess(**SID_POSTPROCESS)
    except (rawpy.LibRawError, OSError) as exc:
        raise _open_error(path, exc) from None
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))

"""Write a raw mosaic as a DNG file that rawpy (LibRaw) reads back bit-exact.

pidng builds the file. Samples are stored in 16-bit containers holding 14-bit values
(WhiteLevel 16383), as many DNG converters do: pidng's own 14-bit packer is broken (it packs
6 pixels into 7 bytes and fails on any width), and 16-bit storage reads back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from pidng.core import RAW2DNG, DNGTags, Tag
from pidng.defs import CalibrationIlluminant, Orientation, PhotometricInterpretation

from gianet import atomic
from gianet.synth.cameras import MAKE

COLOUR_MATRIX_DENOMINATOR = 10000
NEUTRAL_DENOMINATOR = 1_000_000


@dataclass(frozen=True)
class RawMetadata:
    """What a DNG says about its mosaic.

    ``cfa_pattern`` is (P, P) colour indices (0 = R, 1 = G, 2 = B); ``xyz_to_camera`` the
    (3, 3) DNG ColorMatrix1 for D65; ``as_shot_neutral`` the (3,) camera response to neutral
    (1 / white balance gains, green = 1); ``exposure_time`` in seconds.
    """

    cfa_pattern: np.ndarray
    black_level: int
    white_level: int
    xyz_to_camera: np.ndarray
    as_shot_neutral: np.ndarray
    exposure_time: float
    iso: int
    f_number: float
    model: str


def _rational(value: float, max_denominator: int = 1_000_000) -> list[int]:
    fraction = Fraction(value).limit_denominator(max_denominator)
    return [fraction.numerator, fraction.denominator]


def _dng_tags(height: int, width: int, meta: RawMetadata) -> DNGTags:
    period_h, period_w = meta.cfa_pattern.shape
    tags = DNGTags()
    tags.set(Tag.ImageWidth, width)
    tags.set(Tag.ImageLength, height)
    tags.set(Tag.TileWidth, width)
    tags.set(Tag.TileLength, height)
    tags.set(Tag.Orientation, Orientation.Horizontal)
    tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    tags.set(Tag.SamplesPerPixel, 1)
    tags.set(Tag.BitsPerSample, 16)
    tags.set(Tag.CFARepeatPatternDim, [period_h, period_w])
    tags.set(Tag.CFAPattern, [int(c) for c in meta.cfa_pattern.ravel()])
    tags.set(Tag.CFAPlaneColor, [0, 1, 2])
    tags.set(Tag.CFALayout, 1)
    tags.set(Tag.BlackLevel, meta.black_level)
    tags.set(Tag.WhiteLevel, meta.white_level)
    tags.set(
        Tag.ColorMatrix1,
        [
            [int(round(v * COLOUR_MATRIX_DENOMINATOR)), COLOUR_MATRIX_DENOMINATOR]
            for v in np.asarray(meta.xyz_to_camera).ravel()
        ],
    )
    tags.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    tags.set(
        Tag.AsShotNeutral,
        [[int(round(v * NEUTRAL_DENOMINATOR)), NEUTRAL_DENOMINATOR] for v in meta.as_shot_neutral],
    )
    tags.set(Tag.Make, MAKE)
    tags.set(Tag.Model, meta.model)
    tags.set(Tag.UniqueCameraModel, f"{MAKE} {meta.model}")
    tags.set(Tag.ExposureTime, [_rational(meta.exposure_time)])
    tags.set(Tag.FNumber, [_rational(meta.f_number, 100)])
    tags.set(Tag.PhotographicSensitivity, meta.iso)
    return tags


def encode_dng(mosaic: np.ndarray, meta: RawMetadata) -> bytes:
    """The DNG file content for a (H, W) uint16 mosaic in [0, white_level], black included."""
    if mosaic.dtype != np.uint16 or mosaic.ndim != 2:
        raise ValueError(f"mosaic must be a 2-D uint16 array, got {mosaic.dtype} {mosaic.shape}")
    period_h, period_w = meta.cfa_pattern.shape
    height, width = mosaic.shape
    if height % period_h or width % period_w:
        raise ValueError(
            f"mosaic shape {mosaic.shape} must be a multiple of the CFA period "
            f"{meta.cfa_pattern.shape}; crop it to ({height - height % period_h}, "
            f"{width - width % period_w})"
        )
    writer = RAW2DNG()
    writer.options(_dng_tags(height, width, meta), path="", compress=False)
    return bytes(writer.convert(np.ascontiguousarray(mosaic)))


def write_dng(path: Path, mosaic: np.ndarray, meta: RawMetadata) -> None:
    """Write :func:`encode_dng` to ``path`` atomically (temporary file, then rename)."""
    atomic.write_bytes(path, encode_dng(mosaic, meta))

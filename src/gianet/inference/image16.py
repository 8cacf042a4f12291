"""Writing 16-bit RGB images exactly, as PNG or TIFF.

Pillow can neither write nor read 16-bit RGB PNG (it reads such files as 8-bit RGB), and
imageio's PNG path goes through Pillow, so PNGs are encoded here with ``zlib`` alone: one
IHDR (16 bits, colour type 2 = RGB), one IDAT of rows with PNG's "Sub" filter, and IEND
(PNG specification, ISO/IEC 15948). TIFFs are written with tifffile (deflate compressed).
Both round-trip every 16-bit value exactly. Files are written through :mod:`gianet.atomic`,
so an interrupted or failed write never leaves a truncated image under the final name.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from gianet import atomic

RGB16_SUFFIXES = (".png", ".tif", ".tiff")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_RGB16_HEADER = (16, 2, 0, 0, 0)  # bit depth, colour type RGB, deflate, filters, no interlace
_PNG_FILTER_SUB = 1
_BYTES_PER_PIXEL = 6  # three big-endian 16-bit samples


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """Length, type, data and CRC-32 of type + data, as PNG stores a chunk."""
    crc = zlib.crc32(data, zlib.crc32(kind))
    return b"".join([struct.pack(">I", len(data)), kind, data, struct.pack(">I", crc)])


def encode_png16(image: np.ndarray, compression: int = 6) -> bytes:
    """Encode an RGB image as a 16-bit PNG.

    Args:
        image: (H, W, 3) uint16, H and W >= 1.
        compression: zlib level, 0 (none, fastest) to 9 (smallest).

    Returns:
        The PNG file's bytes.
    """
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(
            f"need a non-empty (H, W, 3) uint16 image, got {image.dtype} {image.shape}"
        )
    height, width, _ = image.shape
    samples = (
        np.ascontiguousarray(image, dtype=">u2")
        .view(np.uint8)
        .reshape(height, width * _BYTES_PER_PIXEL)
    )
    # "Sub" filter: each byte minus the byte of the previous pixel in the row, modulo 256.
    rows = np.empty((height, 1 + samples.shape[1]), np.uint8)
    rows[:, 0] = _PNG_FILTER_SUB
    rows[:, 1 : 1 + _BYTES_PER_PIXEL] = samples[:, :_BYTES_PER_PIXEL]
    np.subtract(
        samples[:, _BYTES_PER_PIXEL:],
        samples[:, :-_BYTES_PER_PIXEL],
        out=rows[:, 1 + _BYTES_PER_PIXEL :],
    )
    header = struct.pack(">IIBBBBB", width, height, *_PNG_RGB16_HEADER)
    return b"".join(
        [
            PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(rows, compression)),
            _png_chunk(b"IEND", b""),
        ]
    )


def write_rgb16(path: str | Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint16 image as ``.png`` or ``.tif``/``.tiff`` (by the suffix).

    Creates missing parent folders. Returns ``path``.

    Raises:
        ValueError: another suffix, or not an (H, W, 3) uint16 image.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RGB16_SUFFIXES:
        raise ValueError(
            f"{path}: cannot write a {suffix or 'suffix-less'} file; name it "
            f"{' or '.join(RGB16_SUFFIXES)}"
        )
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"need an (H, W, 3) uint16 image, got {image.dtype} {image.shape}")
    if suffix == ".png":
        return atomic.write_bytes(path, encode_png16(image))
    import tifffile

    return atomic.write_with(
        path, lambda handle: tifffile.imwrite(handle, image, photometric="rgb", compression="zlib")
    )

"""File output: atomic writes (never a half-written file under its final name) and the
16-bit RGB ground-truth image encoding."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a ``*.part`` file beside ``path``, then rename it onto ``path``.

    An interrupted run leaves at most a ``*.part`` file, never a truncated ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def encode_rgb16_tiff(image: np.ndarray) -> bytes:
    """A (H, W, 3) uint16 image as lossless TIFF bytes (deflate with horizontal predictor,
    no timestamp, so reproducible).

    TIFF rather than PNG because Pillow, behind imageio's and scikit-image's PNG readers,
    reads 16-bit RGB PNG as 8 bits; imageio reads this TIFF back exactly (via tifffile).
    """
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint16, got {image.dtype} {image.shape}")
    return iio.imwrite("<bytes>", image, extension=".tif", compression="zlib", predictor=True)

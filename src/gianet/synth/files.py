"""The 16-bit RGB ground-truth image encoding of sid-synth (files are written through
:mod:`gianet.atomic`)."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np


def encode_rgb16_tiff(image: np.ndarray) -> bytes:
    """A (H, W, 3) uint16 image as lossless TIFF bytes (deflate with horizontal predictor,
    no timestamp, so reproducible).

    TIFF rather than PNG because Pillow, behind imageio's and scikit-image's PNG readers,
    reads 16-bit RGB PNG as 8 bits; imageio reads this TIFF back exactly (via tifffile).
    """
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint16, got {image.dtype} {image.shape}")
    return iio.imwrite("<bytes>", image, extension=".tif", compression="zlib", predictor=True)

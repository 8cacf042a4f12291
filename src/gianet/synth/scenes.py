"""Clean sRGB scenes for sid-synth, deterministic from a numpy Generator, no network.

Two sources:
- real photographs bundled in the scikit-image wheel (only those that load offline),
  randomly cropped, resized and flipped, sometimes under a mild global colour cast;
- procedural scenes: a smooth gradient background, large flat or textured rectangles and
  discs, and a global colour cast. Large flat regions and global casts are where global
  information (GIA-Net's global pooling) should matter.

Every scene is (H, W, 3) float32 sRGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
from skimage import data
from skimage.transform import resize

# Colour photographs whose files ship inside the scikit-image wheel (checked offline).
PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": data.astronaut,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "rocket": data.rocket,
    "motorcycle": lambda: data.stereo_motorcycle()[0],
}
# Greyscale photographed textures, also bundled, used to texture procedural shapes.
TEXTURES: dict[str, Callable[[], np.ndarray]] = {
    "brick": data.brick,
    "grass": data.grass,
    "gravel": data.gravel,
}

PHOTO_PROBABILITY = 0.5
PHOTO_CAST_PROBABILITY = 0.5
MIN_CROP_SCALE = 0.5  # crop side, as a fraction of the largest crop of the right aspect
CAST_LOG_SIGMA = 0.25  # per-channel log-normal spread of a procedural colour cast
PHOTO_CAST_LOG_SIGMA = 0.1
SHAPES_PER_SCENE = (3, 10)
TEXTURE_PROBABILITY = 0.3


@cache
def _load(name: str) -> np.ndarray:
    """A bundled image as float32 in [0, 1]: (h, w, 3) for photos, (h, w, 1) for textures."""
    image = PHOTOS[name]() if name in PHOTOS else TEXTURES[name]()
    image = image.astype(np.float32) / 255.0
    return image if image.ndim == 3 else image[..., None]


def random_crop_resize(
    image: np.ndarray, rng: np.random.Generator, height: int, width: int
) -> np.ndarray:
    """Random crop of ``image`` (h, w, C) with the aspect of (height, width), resized to it.

    The crop side is uniform in [0.5, 1] of the largest crop that fits; bilinear resize,
    anti-aliased when shrinking. Returns (height, width, C) float32.
    """
    source_h, source_w = image.shape[:2]
    aspect = width / height
    largest_h = min(source_h, source_w / aspect)
    crop_h = largest_h * rng.uniform(MIN_CROP_SCALE, 1.0)
    crop_w = crop_h * aspect
    top = int(rng.uniform(0, source_h - crop_h))
    left = int(rng.uniform(0, source_w - crop_w))
    crop = image[top : top + max(1, round(crop_h)), left : left + max(1, round(crop_w))]
    resized = resize(
        crop, (height, width), order=1, anti_aliasing=crop.shape[0] > height, preserve_range=True
    )
    return resized.astype(np.float32)


def _colour_cast(rng: np.random.Generator, log_sigma: float) -> np.ndarray:
    """(3,) per-channel multipliers with the largest equal to 1."""
    cast = np.exp(rng.normal(0.0, log_sigma, size=3))
    return (cast / cast.max()).astype(np.float32)


def photo_scene(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, str]:
    """A bundled photograph, cropped, resized, maybe mirrored and tinted; and its name."""
    name = list(PHOTOS)[rng.integers(len(PHOTOS))]
    image = random_crop_resize(_load(name), rng, height, width)
    if rng.random() < 0.5:
        image = image[:, ::-1]
    if rng.random() < PHOTO_CAST_PROBABILITY:
        image = image * _colour_cast(rng, PHOTO_CAST_LOG_SIGMA)
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32), name


def _gradient_background(
    rng: np.random.Generator, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """(H, W, 3) smooth linear or radial blend between two random colours."""
    start, end = rng.uniform(0.05, 0.9, size=(2, 3)).astype(np.float32)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        position = rows * np.sin(angle) + cols * np.cos(angle)
    else:
        centre_r, centre_c = rng.uniform(0, 1, size=2)
        position = np.hypot(rows - centre_r, cols - centre_c)
    position = (position - position.min()) / max(float(np.ptp(position)), 1e-6)
    return start + (end - start) * position[..., None]


def _shape_mask(rng: np.random.Generator, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(H, W) bool: a large rectangle or disc (coordinates are fractions of the height)."""
    centre_r = rng.uniform(0, 1)
    centre_c = rng.uniform(0, float(cols.max()))
    if rng.random() < 0.5:
        half_h, half_w = rng.uniform(0.08, 0.4, size=2)
        return (np.abs(rows - centre_r) < half_h) & (np.abs(cols - centre_c) < half_w)
    radius = rng.uniform(0.06, 0.35)
    return (rows - centre_r) ** 2 + (cols - centre_c) ** 2 < radius**2


def procedural_scene(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Gradient background, 3 to 10 flat or textured shapes, a global colour cast."""
    rows = (np.arange(height, dtype=np.float32) / height)[:, None]
    cols = (np.arange(width, dtype=np.float32) / height)[None, :]
    image = _gradient_background(rng, rows, cols)
    for _ in range(rng.integers(SHAPES_PER_SCENE[0], SHAPES_PER_SCENE[1] + 1)):
        mask = _shape_mask(rng, rows, cols)
        fill = np.broadcast_to(rng.uniform(0.02, 1.0, size=3).astype(np.float32), image.shape)
        if rng.random() < TEXTURE_PROBABILITY:
            texture_name = list(TEXTURES)[rng.integers(len(TEXTURES))]
            texture = random_crop_resize(_load(texture_name), rng, height, width)
            fill = fill * (0.5 + 0.5 * texture)
        image[mask] = fill[mask]
    image *= _colour_cast(rng, CAST_LOG_SIGMA)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def sample_scene(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, str]:
    """A clean scene, (height, width, 3) float32 sRGB in [0, 1], and where it came from
    ("photo:<name>" or "procedural"); photographs and procedural scenes are equally likely."""
    if rng.random() < PHOTO_PROBABILITY:
        image, name = photo_scene(rng, height, width)
        return image, f"photo:{name}"
    return procedural_scene(rng, height, width), "procedural"

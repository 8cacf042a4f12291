"""Clean scenes: offline, deterministic, in range, with the flat regions they promise."""

import socket

import numpy as np
import pytest

from gianet.synth import scenes
from gianet.synth.scenes import (
    PHOTOS,
    TEXTURES,
    photo_scene,
    procedural_scene,
    random_crop_resize,
    sample_scene,
)


def test_bundled_images_load_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    scenes._load.cache_clear()
    for name in [*PHOTOS, *TEXTURES]:
        image = scenes._load(name)
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[0] >= 256
        assert image.shape[2] == (3 if name in PHOTOS else 1)
        assert image.min() >= 0.0 and image.max() <= 1.0


@pytest.mark.parametrize("make", [photo_scene, procedural_scene, sample_scene])
def test_scene_shape_range_and_determinism(make):
    first = make(np.random.default_rng(7), 60, 84)
    again = make(np.random.default_rng(7), 60, 84)
    other = make(np.random.default_rng(8), 60, 84)
    image = first[0] if isinstance(first, tuple) else first
    assert image.shape == (60, 84, 3) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.std() > 0.02  # not blank
    assert np.array_equal(image, again[0] if isinstance(again, tuple) else again)
    assert not np.array_equal(image, other[0] if isinstance(other, tuple) else other)


def test_sample_scene_mixes_photos_and_procedural_scenes():
    rng = np.random.default_rng(0)
    sources = [sample_scene(rng, 24, 36)[1] for _ in range(40)]
    assert 10 < sum(s == "procedural" for s in sources) < 30
    assert {s.removeprefix("photo:") for s in sources if s != "procedural"} <= set(PHOTOS)


def test_procedural_scenes_have_large_flat_regions():
    for seed in range(5):
        image = procedural_scene(np.random.default_rng(seed), 96, 144)
        _, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
        assert counts.max() > 0.03 * 96 * 144


def test_crop_keeps_the_requested_aspect_without_distortion():
    # On the plane 0.0005 row + 0.001 col, an undistorted crop + resize (one zoom factor for
    # both axes) keeps the column slope twice the row slope.
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    plane = (0.0005 * rows + 0.001 * cols)[..., None]
    for seed in range(3):
        crop = random_crop_resize(plane, np.random.default_rng(seed), 50, 100)[..., 0]
        assert crop.shape == (50, 100)
        col_slope = np.diff(crop[5:-5, 5:-5], axis=1).mean()
        row_slope = np.diff(crop[5:-5, 5:-5], axis=0).mean()
        assert col_slope / row_slope == pytest.approx(2.0, rel=0.03)

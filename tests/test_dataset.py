"""Training patches and full frames: alignment, augmentation, determinism."""

import numpy as np
import pytest
import torch

from gianet.data.dataset import CropPolicy, FullFrames, PackedPairs, TrainPatches, preview_input
from tests.conftest import write_packed_cache


def aligned_pair(rng, height, width):
    """Packed input and a ground truth that is its 2x nearest upsampling (channel 0)."""
    packed = rng.integers(0, 15871, size=(4, height, width)).astype(np.uint16)
    gt = np.repeat(np.repeat(packed[:1], 2, axis=1), 2, axis=2).repeat(3, axis=0)
    return packed, gt


@pytest.fixture()
def cache(tmp_path):
    rng = np.random.default_rng(0)
    scenes = {"train": [], "test": []}
    for scene in range(1, 4):
        packed, gt = aligned_pair(rng, 40, 56)  # both shots of a scene share a ground truth
        for shot in range(2):
            # ratio 1 (10 s / 10 s) keeps the input unclipped, so values can be compared.
            scenes["train"].append(
                (packed, gt, f"{scene:05d}_{shot:02d}_10s.dng", f"{scene:05d}_00_10s.tif")
            )
    packed, gt = aligned_pair(rng, 41, 57)
    scenes["test"].append((packed, gt, "10001_00_0.1s.dng", "10001_00_10s.dng"))
    write_packed_cache(tmp_path, scenes)
    return tmp_path


def test_patches_stay_aligned_through_crops_flips_and_transposes(cache):
    pairs = PackedPairs(cache, "train")
    patches = TrainPatches(pairs, CropPolicy("fixed", 16), seed=3)
    seen_shapes = set()
    for epoch in range(6):
        patches.set_epoch(epoch)
        for index in range(len(patches)):
            inputs, target = patches[index]
            assert inputs.shape == (4, 16, 16) and target.shape == (3, 32, 32)
            raw_units = (inputs[0] * 15871).round()
            assert torch.equal(raw_units, (target[0, ::2, ::2] * 65535).round())
            seen_shapes.add(tuple(inputs.shape))
    assert len(patches) == 3  # one item per scene per epoch


def test_epochs_are_reproducible_and_differ_from_each_other(cache):
    pairs = PackedPairs(cache, "train")
    first = TrainPatches(pairs, CropPolicy("fixed", 16), seed=7)
    second = TrainPatches(pairs, CropPolicy("fixed", 16), seed=7)
    first.set_epoch(4)
    second.set_epoch(4)
    assert all(torch.equal(first[i][0], second[i][0]) for i in range(3))
    second.set_epoch(5)
    assert not all(torch.equal(first[i][0], second[i][0]) for i in range(3))


def test_multi_size_crops_draw_sides_a_times_b_shared_within_a_batch(cache):
    pairs = PackedPairs(cache, "train")
    policy = CropPolicy("multi-size", 16, a=4, b_low=2, b_high=9)
    patches = TrainPatches(pairs, policy, seed=0, batch_size=3)
    sides = set()
    for epoch in range(30):
        patches.set_epoch(epoch)
        batch = {tuple(patches[i][0].shape[1:]) for i in range(3)}
        assert len(batch) == 1  # one side per batch
        sides |= {min(s) for s in batch}
    assert sides <= {4 * b for b in range(2, 10)} | {40}  # clipped to the 40-pixel frame height
    assert len(sides) >= 5


def test_full_frames_are_whole_and_amplified_by_the_ratio(cache):
    pairs = PackedPairs(cache, "test")
    inputs, target, index = FullFrames(pairs)[0]
    assert inputs.shape == (4, 41, 57) and target.shape == (3, 82, 114)
    assert pairs.pairs[index].ratio == 100
    assert float(inputs.max()) <= 1.0  # amplified then clipped at max_input
    preview = preview_input(inputs, "bayer")
    assert preview.shape == (3, 82, 114) and preview.min() >= 0 and preview.max() <= 1

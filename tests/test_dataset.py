"""Training crops and full frames: alignment, augmentation, determinism, and the
device-side conversion, bit for bit the arithmetic of the former CPU loader."""

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import RandomSampler, default_collate

from gianet.data.crops import FixedCrops, MultiSizeCrops
from gianet.data.dataset import (
    EpochBatches,
    FullFrames,
    PackedPairs,
    TrainingPoolError,
    TrainPatches,
    draw_augmentation,
)
from gianet.data.tensors import amplify, frame_to_network, preview_input, to_network
from tests.conftest import REPO, write_packed_cache


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


def network_tensors(patches, keys, max_input=1.0):
    """Items ``keys`` collated into one batch and converted as training does."""
    batch = default_collate([patches[key] for key in keys])
    return to_network(batch, torch.device("cpu"), max_input)


def test_patches_stay_aligned_through_crops_flips_and_transposes(cache):
    pairs = PackedPairs(cache, "train", 1.0)
    patches = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=16), seed=3, shots="all", flips="sid"
    )
    flips_seen = set()
    for epoch in range(6):
        for index in range(len(patches)):
            item = patches[(epoch, index, index)]
            assert item["input"].dtype == torch.uint16 and item["target"].dtype == torch.uint16
            flips_seen.add(tuple(item["flips"].tolist()))
            inputs, target = network_tensors(patches, [(epoch, index, index)])
            assert inputs.shape == (1, 4, 16, 16) and target.shape == (1, 3, 32, 32)
            raw_units = (inputs[0, 0] * 15871).round()
            assert torch.equal(raw_units, (target[0, 0, ::2, ::2] * 65535).round())
    assert len(patches) == 3  # one item per scene per epoch
    assert len(flips_seen) >= 6  # flips and transposes exercised


def test_device_side_conversion_is_sids_arithmetic_bit_for_bit(tmp_path):
    """``to_network`` gives exactly what the CPU loader gave: numpy's float32
    ``min(packed / scale * ratio, max_input)``, ``gt / 65535``, then flips and transpose."""
    rng = np.random.default_rng(5)
    scenes = {"train": []}
    for scene in range(1, 4):
        packed, gt = aligned_pair(rng, 40, 56)
        scenes["train"].append(
            (packed // 40, gt, f"{scene:05d}_00_0.04s.dng", f"{scene:05d}_00_10s.dng")
        )
    write_packed_cache(tmp_path, scenes)
    pairs = PackedPairs(tmp_path, "train", 1.0)
    patches = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=24), seed=1, shots="all", flips="sid"
    )
    for epoch in range(4):
        for index in range(3):
            key = (epoch, index, index)
            item = patches[key]
            inputs, target = network_tensors(patches, [key], max_input=0.8)
            pair = patches.scenes[index][0]
            packed, scale, _ = pairs.input_array(pair)
            y, x = item["origin"].tolist()
            crop = packed[:, y : y + 24, x : x + 24].astype(np.float32)
            expected = np.minimum(crop / scale[:, None, None] * pair.ratio, 0.8)
            gt = pairs.gt_array(pair)[:, 2 * y : 2 * y + 48, 2 * x : 2 * x + 48]
            expected_gt = gt.astype(np.float32) / 65535.0
            flip_w, flip_h, transpose = item["flips"].tolist()
            for axis, flip in ((-1, flip_w), (-2, flip_h)):
                if flip:
                    expected, expected_gt = np.flip(expected, axis), np.flip(expected_gt, axis)
            if transpose:
                expected, expected_gt = expected.swapaxes(-1, -2), expected_gt.swapaxes(-1, -2)
            assert pair.ratio == 250 and expected.max() == 0.8  # amplified and clipped
            assert np.array_equal(inputs[0].numpy(), expected)
            assert np.array_equal(target[0].numpy(), expected_gt)


def test_a_batch_flips_each_sample_as_drawn(cache):
    pairs = PackedPairs(cache, "train", 1.0)
    patches = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=16), seed=3, shots="all", flips="sid"
    )
    for epoch in range(4):
        keys = [(epoch, index, 0) for index in range(3)]
        inputs, target = network_tensors(patches, keys)
        for row, key in enumerate(keys):
            alone_inputs, alone_target = network_tensors(patches, [key])
            assert torch.equal(inputs[row], alone_inputs[0])
            assert torch.equal(target[row], alone_target[0])


def test_channels_last_batches_hold_the_same_values(cache):
    patches = TrainPatches(
        PackedPairs(cache, "train", 1.0),
        FixedCrops(kind="fixed", patch=16),
        seed=3,
        shots="all",
        flips="sid",
    )
    batch = default_collate([patches[(0, 1, 1)]])
    plain, _ = to_network(batch, torch.device("cpu"), 1.0)
    channels_last, _ = to_network(batch, torch.device("cpu"), 1.0, torch.channels_last)
    assert channels_last.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(plain, channels_last)


def test_epochs_are_reproducible_and_differ_from_each_other(cache):
    pairs = PackedPairs(cache, "train", 1.0)
    first = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=16), seed=7, shots="all", flips="sid"
    )
    second = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=16), seed=7, shots="all", flips="sid"
    )
    assert all(torch.equal(first[(4, i, i)]["input"], second[(4, i, i)]["input"]) for i in range(3))
    assert not all(
        torch.equal(first[(4, i, i)]["input"], second[(5, i, i)]["input"]) for i in range(3)
    )


def test_multi_size_crops_draw_sides_a_times_b_shared_within_a_batch(cache):
    pairs = PackedPairs(cache, "train", 1.0)
    policy = MultiSizeCrops(kind="multi-size", a=4, b=[2, 9])
    patches = TrainPatches(pairs, policy, seed=0, shots="all", flips="sid")
    sides = set()
    for keys in EpochBatches(len(patches), batch_size=2, seed=0, epochs=30):
        batch = {tuple(patches[key]["input"].shape[1:]) for key in keys}
        assert len(batch) == 1  # one side per batch
        sides |= {min(s) for s in batch}
    assert sides <= {4 * b for b in range(2, 10)} | {40}  # clipped to the 40-pixel frame height
    assert len(sides) >= 5


def test_epoch_batches_shuffle_as_a_seeded_random_sampler_and_resume_mid_epoch():
    batches = EpochBatches(7, batch_size=3, seed=2, epochs=4)
    assert batches.steps_per_epoch == 3 and len(batches) == 12
    for epoch in range(4):
        generator = torch.Generator().manual_seed(2 * 1_000_003 + epoch)
        order = list(RandomSampler(range(7), generator=generator))
        keys = [key for batch in batches.epoch(epoch) for key in batch]
        assert [index for _, index, _ in keys] == order
        assert [len(batch) for batch in batches.epoch(epoch)] == [3, 3, 1]
        assert all(e == epoch for e, _, _ in keys)
    everything = list(batches)
    resumed = EpochBatches(7, batch_size=3, seed=2, epochs=4, first_epoch=1, skip=2)
    assert len(resumed) == 12 - 3 - 2
    assert list(resumed) == everything[3 + 2 :]


@pytest.fixture()
def shots_cache(tmp_path):
    """Scenes 1-3 with shots _00, _01, _02 (scene 3 without _00) whose inputs are filled with
    their shot number, so every drawn crop says which shot it came from."""
    scenes = {"train": []}
    gt = np.zeros((3, 32, 32), np.uint16)
    for scene in range(1, 4):
        for shot in range(1 if scene == 3 else 0, 3):
            packed = np.full((4, 16, 16), shot, np.uint16)
            name = f"{scene:05d}_{shot:02d}_0.1s.dng"
            scenes["train"].append((packed, gt, name, f"{scene:05d}_00_10s.tif"))
    write_packed_cache(tmp_path, scenes)
    return tmp_path


def drawn_shots(patches, epochs=40):
    return {
        int(patches[(epoch, index, index)]["input"][0, 0, 0])
        for epoch in range(epochs)
        for index in range(len(patches))
    }


def test_with_sids_training_shots_only_00_shots_are_ever_drawn(shots_cache):
    pairs = PackedPairs(shots_cache, "train", 1.0)
    first = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=8), seed=1, shots="first", flips="sid"
    )
    assert len(first) == 2  # scene 3 has no _00 shot: SID's glob finds nothing there
    assert drawn_shots(first) == {0}
    everything = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=8), seed=1, shots="all", flips="sid"
    )
    assert len(everything) == 3 and drawn_shots(everything) == {0, 1, 2}


def test_a_pool_without_00_shots_is_refused(tmp_path):
    gt = np.zeros((3, 32, 32), np.uint16)
    packed = np.zeros((4, 16, 16), np.uint16)
    write_packed_cache(tmp_path, {"train": [(packed, gt, "00001_01_0.1s.dng", "00001_00_10s.tif")]})
    with pytest.raises(TrainingPoolError, match="train.shots"):
        TrainPatches(
            PackedPairs(tmp_path, "train", 1.0),
            FixedCrops(kind="fixed", patch=8),
            0,
            shots="first",
            flips="sid",
        )
    with pytest.raises(ValueError, match="flips one of"):
        TrainPatches(
            PackedPairs(tmp_path, "train", 1.0),
            FixedCrops(kind="fixed", patch=8),
            0,
            flips="x",
            shots="all",
        )


def test_flips_before_sids_fix_never_flip_horizontally_and_keep_every_other_draw(cache):
    pairs = PackedPairs(cache, "train", 1.0)
    before = TrainPatches(
        pairs, FixedCrops(kind="fixed", patch=16), seed=3, flips="sid-before-fix", shots="all"
    )
    sid = TrainPatches(pairs, FixedCrops(kind="fixed", patch=16), seed=3, flips="sid", shots="all")
    drawn = []
    for epoch in range(30):
        for index in range(len(sid)):
            ours, theirs = before[(epoch, index, index)], sid[(epoch, index, index)]
            assert torch.equal(ours["input"], theirs["input"])  # same pair and crop
            assert torch.equal(ours["flips"][1:], theirs["flips"][1:])
            drawn.append(ours["flips"])
    drawn = torch.stack(drawn)
    assert not drawn[:, 0].any() and drawn[:, 1].any() and drawn[:, 2].any()
    assert not drawn[:, 1].all() and not drawn[:, 2].all()


def test_paper_flips_each_axis_and_transpose_with_probability_one_half():
    """Under configs/paper.yaml, as SID's train_Sony.py / train_Fuji.py since 2018-10-08:
    three independent draws, P = 1/2 each (SID's np.random.randint(2)); the draws stay keyed
    by (seed, epoch, index) as before, so the old setting differs only in the W flip."""
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    flips = paper["train"]["flips"]
    assert flips == "sid"
    keys = [(7, epoch, index) for epoch in range(40) for index in range(250)]
    drawn = np.array([draw_augmentation(np.random.default_rng(key), flips) for key in keys])
    n = len(keys)
    # 10,000 draws: a frequency more than 4 standard deviations (0.02) from 1/2 fails.
    for column, name in enumerate(("horizontal flip", "vertical flip", "transpose")):
        assert abs(drawn[:, column].mean() - 0.5) < 4 * 0.5 / np.sqrt(n), name
    # Independent: each of the 8 combinations about 1/8 of the time.
    combos = np.bincount(drawn @ np.array([4, 2, 1]), minlength=8) / n
    assert np.all(np.abs(combos - 1 / 8) < 4 * np.sqrt(1 / 8 * 7 / 8 / n))
    # Keyed as before: the same key gives the same draws, and the old setting's are the
    # same draws with the W flip cleared.
    before = np.array([draw_augmentation(np.random.default_rng(k), "sid-before-fix") for k in keys])
    again = np.array([draw_augmentation(np.random.default_rng(key), flips) for key in keys])
    np.testing.assert_array_equal(again, drawn)
    np.testing.assert_array_equal(before[:, 1:], drawn[:, 1:])
    assert not before[:, 0].any()
    expected = np.random.default_rng(keys[0]).random(3) < 0.5
    np.testing.assert_array_equal(drawn[0], expected)


def test_full_frames_are_whole_and_amplified_by_the_ratio(cache):
    pairs = PackedPairs(cache, "test", 1.0)
    frame = FullFrames(pairs)[0]
    inputs, target = frame_to_network(frame, torch.device("cpu"), max_input=1.0)
    assert inputs.shape == (4, 41, 57) and target.shape == (3, 82, 114)
    assert pairs.pairs[frame["index"]].ratio == 100
    assert float(inputs.max()) <= 1.0  # amplified then clipped at max_input
    packed, scale, _ = pairs.input_array(pairs.pairs[0])
    assert torch.equal(inputs, amplify(packed, scale, 100, 1.0))
    preview = preview_input(inputs, "bayer")
    assert preview.shape == (3, 82, 114) and preview.min() >= 0 and preview.max() <= 1

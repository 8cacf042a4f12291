"""CPU cost of one training sample: the former loader against the device-side data path.

    PYTHONPATH=src python benchmarks/bench_data_path.py [--scenes 2] [--samples 60]
    PYTHONPATH=src python benchmarks/bench_data_path.py --small     # tiny frames, a smoke run

On a packed sid-synth cache of Sony-sized frames (2848 x 4256), for fixed 512 crops and the
paper's multi-size crops (32 x b, b in [16, 32]), three ways of producing a sample are timed
side by side, interleaved, on one thread:

- a loader process, before: the former ``TrainPatches.__getitem__`` (copied below): crop,
  convert to float32, amplify, clip, flip and transpose on the CPU;
- a loader process, after: the present ``TrainPatches.__getitem__``, the uint16 crops only
  (on a GPU ``to_network`` does the rest there);
- a CPU-only run, before and after: the same collated into a batch of one, and after, also
  ``to_network`` on the CPU: the whole per-sample cost when there is no GPU.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from synth_cache import packed_synth_cache
from torch.utils.data import default_collate

from gianet.data.crops import FixedCrops, MultiSizeCrops, crop_side
from gianet.data.dataset import PackedPairs, TrainPatches
from gianet.data.tensors import GT_MAX, to_network


def former_sample(patches: TrainPatches, epoch: int, index: int) -> tuple[torch.Tensor, ...]:
    """``TrainPatches.__getitem__`` as it was before the device-side data path (batch 1)."""
    rng = np.random.default_rng([patches.seed, epoch, index])
    side_rng = np.random.default_rng([patches.seed, epoch, index, 1])
    choices = patches.scenes[index]
    pair = choices[int(rng.integers(len(choices)))]
    packed, scale, (dy, dx) = patches.pairs.input_array(pair)
    gt = patches.pairs.gt_array(pair)
    _, height, width = packed.shape
    side = crop_side(patches.crops, side_rng)
    ph, pw = min(side, height), min(side, width)
    y = int(rng.integers(0, height - ph + 1))
    x = int(rng.integers(0, width - pw + 1))
    u = patches.pairs.upscale
    crop = packed[:, y : y + ph, x : x + pw]
    normalised = crop.astype(np.float32) / scale[:, None, None]
    inputs = torch.from_numpy(np.minimum(normalised * pair.ratio, patches.pairs.max_input))
    target_u16 = gt[:, dy + u * y : dy + u * (y + ph), dx + u * x : dx + u * (x + pw)]
    target = torch.from_numpy(target_u16.astype(np.float32) / GT_MAX)
    flip_w, flip_h, transpose = rng.random(3) < 0.5
    if flip_w:
        inputs, target = inputs.flip(-1), target.flip(-1)
    if flip_h:
        inputs, target = inputs.flip(-2), target.flip(-2)
    if transpose:
        inputs, target = inputs.transpose(-1, -2), target.transpose(-1, -2)
    return inputs.contiguous(), target.contiguous()


def former_training_sample(patches: TrainPatches, epoch: int, index: int) -> tuple:
    """What a CPU run got before: the former sample, collated into a batch of one."""
    return default_collate([former_sample(patches, epoch, index)])


def loader_sample(patches: TrainPatches, epoch: int, index: int) -> dict:
    return patches[(epoch, index, index)]


def cpu_training_sample(patches: TrainPatches, epoch: int, index: int) -> tuple:
    batch = default_collate([patches[(epoch, index, index)]])
    return to_network(batch, torch.device("cpu"), patches.pairs.max_input)


#: (before, after) pairs: a loader process's work per sample, and a CPU-only run's.
WAYS = {
    "loader process, before (float on the CPU)": former_sample,
    "loader process, after (uint16 crops)": loader_sample,
    "CPU-only run, before (+ collate)": former_training_sample,
    "CPU-only run, after (+ collate, to_network)": cpu_training_sample,
}


def measure(patches: TrainPatches, samples: int) -> dict[str, float]:
    """Median milliseconds per sample of each way, interleaved over the same draws."""
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    for number in range(samples + 3):
        epoch, index = number, number % len(patches)
        for name, way in WAYS.items():
            start = time.perf_counter()
            way(patches, epoch, index)
            if number >= 3:  # the first ones warm the page cache
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--small", action="store_true", help="tiny frames, for a smoke run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    height, width, a, patch = (288, 432, 4, 64) if args.small else (2848, 4256, 32, 512)
    print(f"frames {height} x {width}, one thread; torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        cache = packed_synth_cache(Path(folder), args.scenes, height, width, workers=2)
        pairs = PackedPairs(cache, "train", 1.0)
        for crops in (
            FixedCrops(kind="fixed", patch=patch),
            MultiSizeCrops(kind="multi-size", a=a, b=[16, 32]),
        ):
            figures = list(
                measure(
                    TrainPatches(pairs, crops, seed=0, shots="all", flips="sid"), args.samples
                ).items()
            )
            label = f"{crops.kind} {patch}" if crops.kind == "fixed" else f"multi-size {a} x b"
            for (name, before), (after_name, after) in zip(
                figures[::2], figures[1::2], strict=True
            ):
                print(f"{label:17s} {name:44s} {before:7.2f} ms/sample")
                print(
                    f"{label:17s} {after_name:44s} {after:7.2f} ms/sample "
                    f"({before / after:5.2f} x faster)"
                )


if __name__ == "__main__":
    main()

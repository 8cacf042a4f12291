"""Check 7: equivalence of the precisions and memory formats.

The same short training of GIA-Net with the joint loss on real crops of the cache (fixed
crops, the same batches in the same order) in IEEE float32, float32 + channels_last, tf32
(CUDA only) and bf16: the mean loss of the second half of the steps, relative to IEEE
float32.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import default_collate

from gianet.data.crops import FixedCrops
from gianet.data.dataset import PackedPairs, TrainPatches
from gianet.data.tensors import to_network
from gianet.jobs.device import Device

from .common import say
from .step import gia_net_step


def check_equivalence(cache: Path, cuda: bool, steps: int, small: bool) -> None:
    """``steps`` steps per precision and memory format; the loss each lands at."""
    device = torch.device("cuda" if cuda else "cpu")
    patches = TrainPatches(
        PackedPairs(cache, "train", 1.0),
        FixedCrops(kind="fixed", patch=96 if small else 512),
        seed=0,
        shots="all",
        flips="sid",
    )
    keys = [(epoch, index, index) for epoch in range(4) for index in range(len(patches))]
    batches = [to_network(default_collate([patches[key]]), device, 1.0) for key in keys]
    configs = [("float32", False), ("float32", True), ("tf32", True), ("bf16", True)]
    if not cuda:
        configs = [("float32", False), ("float32", True), ("bf16", True)]
    means = {}
    for precision, channels_last in configs:
        chosen = Device(device, precision, channels_last)
        step = gia_net_step(chosen)
        losses = []
        with chosen.math():
            for number in range(steps):
                step.start_epoch()
                inputs, target = batches[number % len(batches)]
                step(chosen.batch(inputs), target)
                losses.append(step.loss_sum.clone())
        tail = torch.stack(losses[steps // 2 :]).mean().item()
        means[(precision, channels_last)] = tail
    reference = means[("float32", False)]
    for (precision, channels_last), value in means.items():
        say(
            f"   {precision:7s} channels_last={channels_last!s:5}: mean loss of steps "
            f"{steps // 2}-{steps} {value:.5f} ({(value - reference) / reference:+.2e} "
            "relative to IEEE float32)"
        )

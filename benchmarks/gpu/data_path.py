"""Check 6: the training data path.

CPU milliseconds per training sample, the former loader's way against the device-side data
path (as ``bench_data_path.py`` measures them, one CPU thread), for fixed and multi-size
crops; and the training loader's throughput to the device with 0, 2 and 4 processes.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from bench_data_path import measure as per_sample_milliseconds

from gianet.data.crops import FixedCrops, MultiSizeCrops
from gianet.data.dataset import EpochBatches, PackedPairs, TrainPatches
from gianet.data.tensors import to_network
from gianet.jobs.device import Device
from gianet.training.feed import training_loader

from .common import say, sync


def check_data_path(cache: Path, cuda: bool, small: bool) -> None:
    """CPU cost per sample per way and crop policy, then loader throughput by processes."""
    pairs = PackedPairs(cache, "train", 1.0)
    patch, a = (96, 6) if small else (512, 32)
    for crops in (
        FixedCrops(kind="fixed", patch=patch),
        MultiSizeCrops(kind="multi-size", a=a, b=[16, 32]),
    ):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        figures = per_sample_milliseconds(
            TrainPatches(pairs, crops, seed=0, shots="all", flips="sid"), 10 if small else 40
        )
        torch.set_num_threads(threads)
        for name, milliseconds in figures.items():
            say(
                f"   {crops.kind:10s} {name:44s}: {milliseconds:6.2f} ms per sample "
                "(one CPU thread)"
            )
    device = Device(torch.device("cuda" if cuda else "cpu"), "tf32", channels_last=cuda)
    crops = MultiSizeCrops(kind="multi-size", a=a, b=[16, 32])
    patches = TrainPatches(pairs, crops, seed=0, shots="all", flips="sid")
    for workers in (0, 2, 4):
        batches = EpochBatches(len(patches), 1, 0, epochs=4 if small else 8)
        loader = training_loader(patches, batches, workers, pin_memory=cuda)
        start = time.perf_counter()
        first = None
        for batch in loader:
            to_network(batch, device.device, 1.0, device.memory_format)
            first = first or time.perf_counter()
        sync(device.device)
        rate = (len(batches) - 1) / (time.perf_counter() - first)
        say(
            f"   loader, multi-size crops, {workers} processes, to the device: "
            f"{rate:7.1f} samples/s after the first batch ({first - start:.2f} s)"
        )

"""Every GPU check of the training and evaluation path, in one short script.

    PYTHONPATH=src python benchmarks/gpu_check.py              # on a CUDA machine
    PYTHONPATH=src python benchmarks/gpu_check.py --small      # anywhere, tiny sizes (smoke)

Prints, measured side by side in this one run:
1. training steps/s of GIA-Net at the paper's 512 patch: float32 vs bf16 autocast, and
   channels_last on/off, with peak GPU memory;
2. the data loader's share of a training step (time waiting for the next batch) for 0 and 4
   loader workers on a packed sid-synth cache of Sony-sized frames;
3. full-frame inference (packed 4 x 1424 x 2128, SID's Sony frame) time and peak memory;
4. LPIPS and chunked PieAPP on a 2848 x 4256 frame (random weights written here).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from synth_cache import packed_synth_cache

from gianet.data.dataset import CropPolicy, PackedPairs, TrainPatches
from gianet.losses import build_loss
from gianet.models import build_model
from gianet.perceptual import WEIGHTS, LPIPSMetric
from gianet.train import Device


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_gib(device: torch.device) -> str:
    if device.type != "cuda":
        return "n/a"
    value = torch.cuda.max_memory_allocated() / 2**30
    torch.cuda.reset_peak_memory_stats()
    return f"{value:.2f} GiB"


def train_steps(device: Device, patch: int, steps: int) -> float:
    """Steps per second of GIA-Net with the joint loss on random patches."""
    model = build_model("unet", in_channels=4, upscale=2, gia=True).to(device.device)
    if device.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = build_loss("l1+ms-ssim", 0.84)
    inputs = device.batch(torch.rand(1, 4, patch, patch))
    target = device.batch(torch.rand(1, 3, 2 * patch, 2 * patch))
    for step in range(steps + 2):
        if step == 2:
            sync(device.device)
            start = time.perf_counter()
        with device.autocast():
            output = model(inputs)
        loss = loss_fn(output.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device.device)
    return steps / (time.perf_counter() - start)


def loader_share(cache: Path, workers: int, patch: int, device: torch.device) -> float:
    """Fraction of one epoch's wall time spent waiting for batches."""
    pairs = PackedPairs(cache, "train")
    data = TrainPatches(pairs, CropPolicy("fixed", patch), seed=0)
    loader = torch.utils.data.DataLoader(
        data, batch_size=1, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda"
    )
    model = build_model("unet", in_channels=4, upscale=2, gia=True).to(device)
    waiting, start = 0.0, time.perf_counter()
    asked = time.perf_counter()
    for inputs, target in loader:
        waiting += time.perf_counter() - asked
        loss = (model(inputs.to(device, non_blocking=True)) - target.to(device)).abs().mean()
        loss.backward()
        sync(device)
        asked = time.perf_counter()
    return waiting / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    print(f"device: {torch.cuda.get_device_name() if cuda else 'cpu'}; torch {torch.__version__}")
    patch, steps = (96, 2) if args.small else (512, 20)
    for bf16 in (False, True):
        for channels_last in (False, True):
            chosen = Device(device, bf16 and cuda, channels_last and cuda)
            rate = train_steps(chosen, patch, steps)
            print(
                f"1. train GIA-Net patch {patch}: bf16={bf16!s:5} channels_last="
                f"{channels_last!s:5} {rate:7.2f} steps/s  peak {peak_gib(device)}"
            )
    height, width = (192, 264) if args.small else (2848, 4256)
    with tempfile.TemporaryDirectory() as folder:
        scenes = 4 if args.small else 16
        cache = packed_synth_cache(Path(folder), scenes, height, width, workers=4)
        for workers in (0, 4):
            share = loader_share(cache, workers, min(patch, height // 2), device)
            print(f"2. loader workers {workers}: {100 * share:5.1f} % of the epoch waiting")
    frame = (1, 4, 96, 132) if args.small else (1, 4, 1424, 2128)
    model = build_model("unet", in_channels=4, upscale=2, gia=True).to(device).eval()
    with torch.no_grad(), Device(device, cuda, False).autocast():
        inputs = torch.rand(frame, device=device)
        model(inputs)
        sync(device)
        start = time.perf_counter()
        model(inputs)
        sync(device)
    print(
        f"3. full frame {frame[1:]}: {time.perf_counter() - start:.3f} s, peak {peak_gib(device)}"
    )
    with tempfile.TemporaryDirectory() as home:
        backbone = WEIGHTS["alexnet"].path(Path(home))
        backbone.parent.mkdir(parents=True)
        torch.save(torchvision.models.alexnet(weights=None).state_dict(), backbone)
        lpips = LPIPSMetric(Path(home), device)
        size = (1, 3, 192, 264) if args.small else (1, 3, 2848, 4256)
        pred, target = torch.rand(size, device=device), torch.rand(size, device=device)
        sync(device)
        start = time.perf_counter()
        lpips(pred, target)
        sync(device)
        print(f"4. LPIPS {size[2:]}: {time.perf_counter() - start:.2f} s, peak {peak_gib(device)}")


if __name__ == "__main__":
    main()

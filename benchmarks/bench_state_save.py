"""How long a training needs to stop when SLURM warns it: the largest model's step and state save.

A SLURM training job is told to stop ``--signal=TERM@<seconds>`` before its time limit
(workflow/rules/train.smk, STOP_NOTICE). It notices the signal after the step in flight,
saves its training state (weights and Adam's two moments, ``save_training_state``: in
memory, then written and synced through ``gianet.atomic``) and asks SLURM to requeue it. The
warning must cover that with a margin, or the hard limit strikes first (TIMEOUT: the workflow
reports a failure). This script builds every variant at the paper's width for both cameras,
names the largest, and times on this machine:

- one training step at the paper's patch (512 packed pixels) on the CPU (a GPU takes
  milliseconds: benchmarks/README.md, the GPU figures), forward, loss and Adam;
- the state save into ``--dir`` (default: models/, where training writes it), median of
  ``--repeats``, and its size;
- loading it back (what the next run does first);

and prints them beside the warning time, for the largest model, GIA-Net, RIDNet (the most
operations per pixel, so the longest step) and SID-Net.

    PYTHONPATH=src python benchmarks/bench_state_save.py [--dir models] [--repeats 5]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import torch

from gianet.models import build_model
from gianet.models.checkpoint import load_checkpoint, save_training_state
from gianet.variants import VARIANTS, arch_args

RULES = Path(__file__).parents[1] / "workflow" / "rules" / "train.smk"
#: Packed channels and upscale of each camera's CFA (Bayer 2 x 2, X-Trans 3 x 3).
CAMERAS = {"Sony": (4, 2), "Fuji": (9, 3)}


def stop_notice() -> int:
    """The warning time the training rule asks SLURM for (seconds before the limit)."""
    return int(re.search(r"^STOP_NOTICE = (\d+)", RULES.read_text(), re.M).group(1))


def model_of(variant: str, camera: str) -> torch.nn.Module:
    channels, upscale = CAMERAS[camera]
    arguments = arch_args(VARIANTS[variant], 3)  # the paper's 3 x 3 extra convolutions
    return build_model(VARIANTS[variant].arch, in_channels=channels, upscale=upscale, **arguments)


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def one_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, camera: str) -> float:
    """Seconds of one L1 training step on a 512 x 512 packed crop (Adam's moments appear)."""
    channels, upscale = CAMERAS[camera]
    crop = torch.rand(1, channels, 512, 512)
    target = torch.rand(1, 3, 512 * upscale, 512 * upscale)
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = (model(crop) - target).abs().mean()
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="models", help="where the states are written")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)

    sizes = {
        (name, camera): parameters(model_of(name, camera))
        for name in VARIANTS
        for camera in CAMERAS
    }
    print("parameters at the paper's width (millions):")
    for name in VARIANTS:
        print(f"  {name:22s} Sony {sizes[name, 'Sony'] / 1e6:6.2f}   Fuji "
              f"{sizes[name, 'Fuji'] / 1e6:6.2f}")  # fmt: skip
    largest = max(sizes, key=sizes.get)
    print(f"largest: {largest[0]} on {largest[1]}, {sizes[largest] / 1e6:.2f} M parameters\n")

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    notice = stop_notice()
    rows = []
    # The most parameters (the largest state), GIA-Net, RIDNet (the most FLOPs per pixel:
    # the longest step) and SID-Net for scale.
    measured = [largest, ("gia_net", "Sony"), ("ridnet", "Sony"), ("sid_net", "Sony")]
    for name, camera in dict.fromkeys(measured):
        model = model_of(name, camera)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        step = one_step(model, optimizer, camera)
        channels, upscale = CAMERAS[camera]
        meta = {
            "variant": name, "arch": VARIANTS[name].arch, "arch_args": arch_args(VARIANTS[name], 3),
            "camera": camera, "cfa": "bayer" if camera == "Sony" else "xtrans",
            "in_channels": channels, "upscale": upscale, "steps": 0, "loss_sum": 0.0,
        }  # fmt: skip
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            path = Path(scratch) / "train_state.pt"
            saves, loads = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                save_training_state(path, model, optimizer, 1, meta)
                saves.append(time.perf_counter() - start)
                start = time.perf_counter()
                load_checkpoint(path)
                loads.append(time.perf_counter() - start)
            size = path.stat().st_size
        save, load = sorted(saves)[len(saves) // 2], sorted(loads)[len(loads) // 2]
        rows.append((name, camera, size, step, save, max(saves), load))

    print(f"state saves into {folder.resolve()}, median of {args.repeats} (max in brackets):")
    print("| model | state | one step at 512 (CPU) | save | load | step + save vs warning |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, camera, size, step, save, worst, load in rows:
        ratio = notice / (step + worst)
        print(
            f"| {name} ({camera}) | {size / 2**20:.0f} MiB | {step:.2f} s | {save:.2f} s "
            f"({worst:.2f} s) | {load:.2f} s | {step + worst:.1f} s of {notice} s: "
            f"{ratio:.0f} x margin |"
        )


if __name__ == "__main__":
    main()

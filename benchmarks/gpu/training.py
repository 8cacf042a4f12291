"""Check 4: the real training loop, ``gianet.training.train.train_variant``, on a packed
sid-synth cache.

GIA-Net as configs/paper.yaml trains it (multi-size crops, the joint loss, its precision),
fewer epochs, with validation and checkpoints on: steps/s overall and steady (the second half
of the epochs, validation and checkpoints taken out), the GPU-busy share (NVML), the GPU-bound
rate of the same crop sizes with the data already on the GPU, seconds per validation frame
and per checkpoint, and the projected hours of the paper's schedule. No dvclive: the loop gets
an in-memory curve logger.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import gianet.training.train as train_module
from gianet.data.crops import crop_side
from gianet.data.dataset import EpochBatches, PackedPairs
from gianet.data.lists import Selection
from gianet.jobs.device import Device
from gianet.settings.sections import Runtime
from gianet.training.recipe import Recipe
from gianet.training.step import EAGER_RUNS, CapturedSteps

from .busy import GpuBusy
from .common import say, sync
from .settings import PAPER_CONFIG, paper_cadence, paper_recipe, params, runtime
from .step import gia_net_step

#: The paper's schedule for Sony: 4000 epochs of SID's 161 training scenes (644,000 steps).
PAPER_EPOCHS, SONY_TRAIN_SCENES = 4000, 161
#: The camera of the cache ``synth_cache.packed_synth_cache`` packs (Sony frames).
CAMERA = "Sony"


class MemoryCurves:
    """An in-memory curve logger for ``train_variant`` (no dvclive): keeps (name, value, time)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, float, float]] = []

    def log_metric(self, name: str, value: float) -> None:
        self.records.append((name, value, time.perf_counter()))

    def next_step(self) -> None:
        pass

    def __enter__(self) -> MemoryCurves:
        return self

    def __exit__(self, *exc_info: object) -> bool:
        return False


@dataclass(frozen=True)
class Loop:
    """One training of the check: what is trained, how the job runs, and the validation
    frames (configs/paper.yaml's ``train.val_exposures``; sid-synth excludes no scene)."""

    recipe: Recipe
    runtime: Runtime
    validation: Selection


def loop_settings(small: bool) -> Loop:
    """The paper's training of gia_net (configs/paper.yaml over params.yaml), 32 epochs."""
    changes: dict = {"epochs": 3 if small else 32, "lr_decay_epoch": 2 if small else 16}
    if small:
        changes |= {"patch": 96, "multi_size_a": 6}
    cadence = 1 if small else 8
    chosen = runtime(
        threads=8, loader_workers=4, device="auto", channels_last=True, cuda_graphs=True,
        compile=False, checkpoint_every=cadence, val_every=cadence, progress=False,
    )  # fmt: skip
    exposures = params(PAPER_CONFIG).train.val_exposures[CAMERA]
    validation = Selection(exposures=exposures, exclude_scenes=[])
    return Loop(paper_recipe("gia_net", **changes), chosen, validation)


def run_loop(cache: Path, out: Path, loop: Loop, chosen: Runtime) -> dict:
    """One ``train_variant`` run of GIA-Net with timings of its validations, checkpoints and
    epochs and the GPU-busy share."""
    spent: dict[str, list[tuple[float, float]]] = {"validate": [], "save_training_state": []}
    originals = {name: getattr(train_module, name) for name in spent}

    def timing(name: str) -> Callable:
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = originals[name](*args, **kwargs)
            sync(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
            spent[name].append((start, time.perf_counter() - start))
            return result

        return wrapper

    recipe = loop.recipe
    train_pairs = PackedPairs(cache, "train", recipe.max_input)
    val_pairs = PackedPairs(cache, "val", recipe.max_input, selection=loop.validation)
    curves = MemoryCurves()
    for name in spent:
        setattr(train_module, name, timing(name))
    try:
        with GpuBusy() as busy:
            result = train_module.train_variant(
                recipe, train_pairs, val_pairs, out / "model.pt", out / "log",
                camera=CAMERA, runtime=chosen, curves=lambda log_dir, resume: curves,
            )  # fmt: skip
    finally:
        for name, original in originals.items():
            setattr(train_module, name, original)
    ends = [when for name, _, when in curves.records if name == "train/loss"]
    # Steady state: the second half of the epochs, validation and checkpoints taken out.
    half = len(ends) // 2
    extra = sum(
        seconds
        for calls in spent.values()
        for start, seconds in calls
        if ends[half - 1] <= start < ends[-1]
    )
    steady_steps = (len(ends) - half) * result.steps // len(ends)
    steady_rate = steady_steps / (ends[-1] - ends[half - 1] - extra)
    return {
        "result": result,
        "steady_rate": steady_rate,
        "busy": busy.share(),
        "steady_busy": busy.share(since=ends[half - 1]),
        "val_seconds": [s for _, s in spent["validate"]],
        "checkpoint_seconds": [s for _, s in spent["save_training_state"]],
        "val_frames": len(val_pairs.pairs),
    }


def crop_sides(recipe: Recipe, scenes: int) -> list[int]:
    """The crop side of every step of the loop, as its batches draw them."""
    batches = EpochBatches(scenes, recipe.batch_size, recipe.seed, recipe.epochs)
    sides = []
    for batch in batches:
        epoch, _, first = batch[0]
        rng = np.random.default_rng([recipe.seed, epoch, first, 1])
        sides.append(crop_side(recipe.crops, rng))
    return sides


def gpu_bound_rate(sides: list[int], cuda: bool) -> float:
    """Steps/s of the captured step over the same crop sizes with the data already on the
    GPU: the rate a perfectly fed loop would reach."""
    device = Device(torch.device("cuda" if cuda else "cpu"), "tf32", channels_last=cuda)
    step = gia_net_step(device)
    run = CapturedSteps(step) if cuda else step
    batches = {
        side: (
            device.batch(torch.rand(1, 4, side, side)),
            torch.rand(1, 3, 2 * side, 2 * side, device=device.device),
        )
        for side in set(sides)
    }
    with device.math():
        for side in sorted(set(sides)):  # every size captured before timing
            for _ in range(EAGER_RUNS + 1):
                run(*batches[side])
        sync(device.device)
        start = time.perf_counter()
        for side in sides:
            run(*batches[side])
        sync(device.device)
    return len(sides) / (time.perf_counter() - start)


def report_loop(name: str, figures: dict, bound: float | None) -> None:
    """Print one loop's figures and the paper's schedule projected from them."""
    result = figures["result"]
    val, ckpt = figures["val_seconds"], figures["checkpoint_seconds"]
    busy = "n/a (no NVML)" if figures["busy"] is None else f"{100 * figures['busy']:.0f} %"
    steady_busy = (
        ""
        if figures["steady_busy"] is None
        else f", {100 * figures['steady_busy']:.0f} % in the second half"
    )
    say(
        f"   {name}: {result.steps} steps in {result.seconds:.1f} s = "
        f"{result.steps / result.seconds:.1f} steps/s overall; steady (second half, no "
        f"validation/checkpoint) {figures['steady_rate']:.1f} steps/s"
    )
    say(
        f"   {name}: GPU busy {busy}{steady_busy}"
        + (
            f"; GPU-bound rate for these crops {bound:.1f} steps/s (the loop reaches "
            f"{figures['steady_rate'] / bound:.0%} of it)"
            if bound
            else ""
        )
    )
    per_frame = sum(val) / len(val) / figures["val_frames"] if val else 0.0
    per_ckpt = sum(ckpt) / len(ckpt) if ckpt else 0.0
    say(
        f"   {name}: validation {per_frame:.3f} s per frame ({len(val)} runs), checkpoint "
        f"{per_ckpt:.3f} s ({len(ckpt)})"
    )
    val_every, ckpt_every, val_frames = paper_cadence()
    steps = PAPER_EPOCHS * SONY_TRAIN_SCENES
    hours = (
        steps / figures["steady_rate"]
        + PAPER_EPOCHS // val_every * val_frames * per_frame
        + PAPER_EPOCHS // ckpt_every * per_ckpt
    ) / 3600
    say(
        f"   {name}: projected paper schedule (4000 x 161 = {steps} steps, validation of "
        f"{val_frames} frames every {val_every} epochs, checkpoint every {ckpt_every}): "
        f"{hours:.2f} h per model, {28 * hours:.0f} GPU-hours for the 28 trainings"
    )

"""Check 5: evaluation of full frames (12 MP on the GPU machine) on the device.

Seconds per frame of the network (float32, TF32 off) and of each metric (PSNR, SSIM, LPIPS,
PieAPP), and of ``gianet.evaluation.evaluate.evaluate_variant`` from frame to frame (PSNR +
SSIM + LPIPS, one sample PNG set written in the background). LPIPS and PieAPP get random
weights: their speed does not depend on the values.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torchvision

import gianet.evaluation.evaluate as evaluate_module
from gianet.data.dataset import FullFrames, PackedPairs
from gianet.data.lists import Selection
from gianet.data.manifest import load_manifest
from gianet.data.tensors import frame_to_network
from gianet.evaluation.metrics import psnr, ssim
from gianet.evaluation.perceptual import LPIPSMetric, PieAPPMetric
from gianet.fetch.weights import WEIGHTS
from gianet.jobs.device import Device

from .common import say, timed
from .settings import runtime


def random_metric_weights(home: Path) -> None:
    """Random LPIPS backbone and PieAPP weights where the metrics look for them."""
    alexnet = WEIGHTS["alexnet"].path(home)
    alexnet.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), alexnet)
    from piq.pieapp import PieAPPModel

    state = PieAPPModel().state_dict()
    state["ref_score_subtract.weight"] = state["ref_score_subtract.weight"].squeeze(
        1
    )  # as released
    torch.save(state, WEIGHTS["pieapp"].path(home))


def check_evaluation(cache: Path, model_path: Path, home: Path, cuda: bool, out: Path) -> None:
    """Seconds per frame of the network, of each metric, and of ``evaluate_variant``."""
    from gianet.models.checkpoint import load_model

    device = Device(torch.device("cuda" if cuda else "cpu"), "float32", channels_last=cuda)
    pairs = PackedPairs(cache, "test", 1.0)
    inputs, target = frame_to_network(FullFrames(pairs)[0], device.device, 1.0)
    model = device.prepare(load_model(model_path)[0])
    lpips = LPIPSMetric(home, device.device, "alex")
    pieapp = PieAPPMetric(home, device.device)
    with torch.no_grad(), device.math():
        output = model(device.batch(inputs[None])).clamp(0, 1)
        truth = target[None]
        seconds = {
            "network (float32)": timed(device.device, lambda: model(device.batch(inputs[None]))),
            "psnr": timed(device.device, lambda: psnr(output, truth).item()),
            "ssim": timed(device.device, lambda: ssim(output, truth).item()),
            "lpips": timed(device.device, lambda: lpips(output, truth)),
            "pieapp": timed(device.device, lambda: pieapp(output, truth)),
        }
    shape = tuple(output.shape[-2:])
    for name, value in seconds.items():
        say(f"   {shape[0]} x {shape[1]} frame, {name:17s}: {value:7.3f} s")
    starts: list[float] = []
    original = evaluate_module.frame_to_network

    def stamped(*args, **kwargs):
        starts.append(time.perf_counter())
        return original(*args, **kwargs)

    # Every test frame of the sid-synth cache (no scene excluded).
    every_frame = Selection(exposures="all", exclude_scenes=[])
    evaluate_module.frame_to_network = stamped
    try:
        begin = time.perf_counter()
        summary = evaluate_module.evaluate_variant(
            model_path, cache, load_manifest(cache, ("test",)), every_frame,
            csv_path=out / "metrics.csv", summary_path=out / "summary.json",
            samples_dir=out / "samples", dataset="sid-synth", metrics=["psnr", "ssim", "lpips"],
            lpips_backbone="alex", samples=1, torch_home=home,
            runtime=runtime(threads=8, loader_workers=2, channels_last=cuda, progress=False),
        )  # fmt: skip
        wall = time.perf_counter() - begin
    finally:
        evaluate_module.frame_to_network = original
    frames = summary["n_images"]
    steady = (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else float("nan")
    say(
        f"   evaluate_variant, {frames} frames, PSNR + SSIM + LPIPS, 1 sample PNG set: "
        f"{wall:.2f} s in all (setup included), {steady:.3f} s per frame from frame to frame; "
        f"network {summary['seconds_per_image']:.3f} s per frame"
    )

"""Evaluating a trained variant on full-resolution test frames.

Each test frame goes through the network whole; the output is clipped to [0, 1] and compared
with the ground truth at full resolution by PSNR and SSIM (:mod:`gianet.metrics`) and, when
their pretrained weights are in the cache, LPIPS and PieAPP (:mod:`gianet.perceptual`). A
perceptual metric whose weights are missing is reported as unavailable, with one message
naming the files and where to put them, and the others still complete. One CSV row per test
image (file, ratio, ISO, each metric, inference seconds) and a summary JSON of means per
variant. The first ``samples`` frames are also saved as 8-bit sRGB PNGs (input preview,
output, ground truth) for the figure.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from gianet import atomic
from gianet.checkpoint import load_model
from gianet.data.dataset import FullFrames, PackedPairs, preview_input
from gianet.metrics import psnr, ssim
from gianet.paths import sample_names
from gianet.perceptual import LPIPSMetric, PieAPPMetric
from gianet.runtime import DEFAULT_RUNTIME, Runtime
from gianet.weights import MissingWeights

METRICS = ("psnr", "ssim", "lpips", "pieapp")
Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def build_metrics(
    names: Sequence[str], torch_home: Path, device: torch.device
) -> tuple[dict[str, Metric], dict[str, str]]:
    """The metrics asked for that can run, and why the others cannot.

    Returns:
        ``(metrics, unavailable)``: metric name -> ``f(pred, target)`` on (1, 3, H, W) in
        [0, 1], and metric name -> the message saying which weights are missing and where.
    """
    builders: dict[str, Callable[[], Metric]] = {
        "psnr": lambda: psnr,
        "ssim": lambda: ssim,
        "lpips": lambda: LPIPSMetric(torch_home, device),
        "pieapp": lambda: PieAPPMetric(torch_home, device),
    }
    metrics, unavailable = {}, {}
    for name in names:
        try:
            metrics[name] = builders[name]()
        except MissingWeights as exc:
            unavailable[name] = str(exc)
    return metrics, unavailable


def to_png8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    return (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


@torch.no_grad()
def evaluate_variant(
    model_path: str | Path,
    cache_dir: str | Path,
    *,
    csv_path: str | Path,
    summary_path: str | Path,
    samples_dir: str | Path,
    dataset: str,
    metrics: Sequence[str] = ("psnr", "ssim"),
    torch_home: str | Path = ".torch",
    samples: int = 2,
    max_input: float = 1.0,
    runtime: Runtime = DEFAULT_RUNTIME,
) -> dict:
    """Evaluate a checkpoint on the cache's test split.

    Writes one row per test image to ``csv_path``, the means to ``summary_path``, and the
    first ``samples`` images' PNGs (:func:`gianet.paths.sample_names`) into ``samples_dir``.

    Returns:
        The summary: ``{"dataset", "camera", "variant", "n_images", "psnr", "ssim", "lpips",
        "pieapp", "seconds_per_image", "unavailable", "samples", "samples_dir"}`` with
        ``None`` for metrics not computed, in ``unavailable`` why a requested one could not
        be, and the saved images' stems in ``samples`` (folder relative to the summary).
    """
    torch.set_num_threads(runtime.threads)
    device = runtime.torch_device()
    pairs = PackedPairs(cache_dir, "test", max_input)
    model, checkpoint = load_model(model_path, cfa=pairs.cfa)
    model.to(device)
    measures, unavailable = build_metrics(metrics, Path(torch_home), device)
    for name, reason in unavailable.items():
        print(f"{name.upper()} unavailable: {reason}", file=sys.stderr)
    sample_dir = Path(samples_dir)
    sample_dir.mkdir(parents=True, exist_ok=True)
    frames = FullFrames(pairs)
    rows, saved = [], []
    for inputs, target, index in tqdm(
        frames, desc=f"evaluating {model_path}", disable=not runtime.progress
    ):
        pair = frames.selection[index]
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        output = model(inputs[None].to(device)).clamp(0, 1)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        truth = target[None].to(device)
        row = {
            "file": pair.short,
            "gt_file": pair.long,
            "scene": pair.scene,
            "shot": pair.shot,
            "ratio": pair.ratio,
            "iso": pair.iso,
        }
        row |= {name: measure(output, truth).item() for name, measure in measures.items()}
        rows.append(row | {"seconds": seconds})
        if index < samples:
            stem = Path(pair.short).name.rsplit(".", 1)[0]
            names = sample_names(stem)
            saved.append(stem)
            atomic.write_image(sample_dir / names["output"], to_png8(output[0].cpu()))
            atomic.write_image(sample_dir / names["gt"], to_png8(target))
            atomic.write_image(
                sample_dir / names["input"], to_png8(preview_input(inputs, pairs.cfa))
            )
    table = pd.DataFrame(rows)
    atomic.write_text(csv_path, table.to_csv(index=False, float_format="%.8g"))
    summary = {
        "dataset": dataset,
        "camera": checkpoint["camera"],
        "variant": checkpoint["variant"],
        "n_images": len(rows),
        **{m: (float(table[m].mean()) if m in table else None) for m in METRICS},
        "seconds_per_image": float(table["seconds"].mean()),
        "unavailable": unavailable,
        # The figure's PNGs: stems, in the folder given relative to this summary.
        "samples": saved,
        "samples_dir": os.path.relpath(sample_dir, Path(summary_path).parent),
    }
    atomic.write_json(summary_path, summary, indent=2)
    return summary

"""Evaluating a trained variant on full-resolution test frames.

Each test frame goes through the network whole; the output is clipped to [0, 1] and compared
with the ground truth at full resolution by PSNR and SSIM (:mod:`gianet.evaluation.metrics`)
and, when their pretrained weights are in the cache, LPIPS and PieAPP
(:mod:`gianet.evaluation.perceptual`). A
perceptual metric whose weights are missing is reported as unavailable, with one message
naming the files and where to put them, and the others still complete. One CSV row per test
image (file, ratio, ISO, each metric, inference seconds) and a summary JSON of means per
variant. The first ``samples`` frames are also saved as 8-bit sRGB PNGs (input preview,
output, ground truth) for the figure.

On a GPU everything runs there end to end: the uint16 frame is read from the cache (by
``runtime.loader_workers`` processes, ahead of the network, into pinned memory), converted and
amplified on the device, passed through the network in IEEE float32 (TF32 off, so the
numbers do not depend on the GPU's math mode), and measured there; only the metrics' scalars
come back. The sample PNGs are encoded and written by a background thread, off the critical
path.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from gianet import atomic
from gianet.data.dataset import FullFrames, PackedPairs
from gianet.data.lists import Selection
from gianet.data.tensors import frame_to_network, ground_truth_tensor, preview_input
from gianet.domain.metrics import METRICS
from gianet.evaluation.metrics import psnr
from gianet.fetch.weights import MissingWeights
from gianet.jobs.cpus import bounded
from gianet.jobs.device import Device
from gianet.models.checkpoint import check_cfa, load_model
from gianet.models.finite import check_finite
from gianet.paths import sample_names
from gianet.settings.sections import Runtime
from gianet.training.recipe import Recipe, readings, recipe_of

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: What a non-finite output means for an evaluation, and the fix.
_NOTHING_WRITTEN = (
    "no metrics were written",
    "Retrain the variant (its training must end with a finite loss) and evaluate again",
)


def build_metrics(
    names: Sequence[str], torch_home: Path, device: torch.device, lpips_backbone: str
) -> tuple[dict[str, Metric], dict[str, str]]:
    """The metrics asked for that can run, and why the others cannot, each built as the
    metric registry says (:data:`gianet.domain.metrics.METRICS`).

    Returns:
        ``(metrics, unavailable)``: metric name -> ``f(pred, target)`` on (1, 3, H, W) in
        [0, 1], and metric name -> the message saying which weights are missing and where.
    """
    metrics, unavailable = {}, {}
    for name in names:
        module, attribute = METRICS[name].implementation.split(":")
        builder = getattr(importlib.import_module(module), attribute)
        try:
            metrics[name] = builder(torch_home, device, lpips_backbone)
        except MissingWeights as exc:
            unavailable[name] = str(exc)
    return metrics, unavailable


def protocol_of(
    levels: str | None, selection: Selection, recipe: Recipe, metrics: Sequence[str], backbone: str
) -> dict:
    """What an evaluation's numbers follow, for the report to state under each table:
    ``{"test_exposures", "exclude_scenes", "levels", "lpips_backbone", "loss", "training"}``
    (the training readings of :func:`gianet.training.recipe.readings`)."""
    return {
        "test_exposures": selection.exposures,
        "exclude_scenes": sorted(selection.exclude_scenes),
        "levels": levels,
        "lpips_backbone": backbone if "lpips" in metrics else None,
        "loss": recipe.loss.kind,
        "training": readings(recipe),
    }


def to_png8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    return (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def write_samples(
    sample_dir: Path,
    names: dict[str, str],
    output: torch.Tensor,
    target: torch.Tensor,
    inputs: torch.Tensor,
    cfa: str,
) -> None:
    """The figure's three PNGs of one frame, from CPU tensors: ``output`` (3, H, W) in [0, 1],
    ``target`` (3, H, W) uint16, ``inputs`` (C, h, w) amplified packed raw."""
    atomic.write_image(sample_dir / names["output"], to_png8(output))
    atomic.write_image(sample_dir / names["gt"], to_png8(ground_truth_tensor(target)))
    atomic.write_image(sample_dir / names["input"], to_png8(preview_input(inputs, cfa)))


def synchronize(device: Device) -> None:
    """Wait for the device's queued work (for timing)."""
    if device.cuda:
        torch.cuda.synchronize(device.device)


@torch.no_grad()
def evaluate_variant(
    model_path: str | Path,
    cache_dir: str | Path,
    manifest: dict,
    selection: Selection,
    *,
    csv_path: str | Path,
    summary_path: str | Path,
    samples_dir: str | Path,
    dataset: str,
    metrics: Sequence[str],
    lpips_backbone: str,
    samples: int,
    torch_home: str | Path,
    runtime: Runtime,
) -> dict:
    """Evaluate a checkpoint on the test pairs of ``cache_dir`` that ``selection`` keeps.

    Writes one row per test image to ``csv_path`` (with its scene and shot, so that means over
    a subset, SID's ``_00`` shots say, can be taken later), the means to ``summary_path``, and
    the first ``samples`` images' PNGs (:func:`gianet.paths.sample_names`) into
    ``samples_dir``. The input is clipped as the model was trained (its recipe's
    ``max_input``).

    Returns:
        The summary: ``{"dataset", "camera", "variant", "seed", "n_images", <each metric>,
        "input_psnr", "seconds_per_image", "unavailable", "samples", "samples_dir",
        "protocol"}`` with ``None`` for metrics not computed, in ``input_psnr`` the mean PSNR
        of the input brightened by its ratio (the baseline every figure tile prints), in
        ``unavailable`` why a requested one could not be, the saved images' stems in
        ``samples`` (folder relative to the summary), and in ``protocol`` what the numbers
        follow (:func:`protocol_of`).
    """
    torch.set_num_threads(bounded(runtime.threads, "runtime.threads"))
    device = Device.choose(runtime, "float32")
    model, checkpoint = load_model(model_path)
    recipe = recipe_of(checkpoint, model_path)
    max_input = recipe.max_input
    pairs = PackedPairs(cache_dir, "test", max_input, manifest, selection)
    check_cfa(model_path, checkpoint, pairs.cfa)
    device.prepare(model)
    measures, unavailable = build_metrics(metrics, Path(torch_home), device.device, lpips_backbone)
    for name, reason in unavailable.items():
        print(f"{name.upper()} unavailable: {reason}", file=sys.stderr)
    sample_dir = atomic.own_folder(samples_dir)  # never written through a planted link
    frames = FullFrames(pairs)
    workers = bounded(runtime.loader_workers, "runtime.loader_workers", least=0)
    loader = DataLoader(
        frames,
        batch_size=None,
        num_workers=workers,
        pin_memory=device.cuda,
        prefetch_factor=1 if workers else None,
    )
    rows, saved = [], []
    writes: list[Future] = []
    with device.math(), ThreadPoolExecutor(max_workers=1) as writer:
        for frame in tqdm(loader, desc=f"evaluating {model_path}", disable=not runtime.progress):
            index = frame["index"]
            pair = frames.selection[index]
            inputs, truth = frame_to_network(frame, device.device, max_input)
            synchronize(device)
            start = time.perf_counter()
            output = model(device.batch(inputs[None]))
            check_finite(output, f"{model_path} on {pair.short}", *_NOTHING_WRITTEN)
            output = output.clamp(0, 1)
            synchronize(device)
            seconds = time.perf_counter() - start
            row = {
                "file": pair.short,
                "gt_file": pair.long,
                "scene": pair.scene,
                "shot": pair.shot,
                "ratio": pair.ratio,
                "iso": pair.iso,
            }
            row |= {name: float(measure(output, truth[None])) for name, measure in measures.items()}
            # The baseline every figure tile prints: the input brightened by its ratio.
            brightened = preview_input(inputs, pairs.cfa)[None]
            row["input_psnr"] = float(psnr(brightened, truth[None]))
            rows.append(row | {"seconds": seconds})
            if index < samples:
                stem = Path(pair.short).name.rsplit(".", 1)[0]
                names = sample_names(stem)
                saved.append(stem)
                images = (output[0].float().cpu(), frame["target"], inputs.cpu(), pairs.cfa)
                writes.append(writer.submit(write_samples, sample_dir, names, *images))
        for write in writes:
            write.result()  # a failed write stops evaluation here, naming its error
    table = pd.DataFrame(rows)
    atomic.write_text(csv_path, table.to_csv(index=False, float_format="%.8g"))
    summary = {
        "dataset": dataset,
        "camera": checkpoint["camera"],
        "variant": checkpoint["variant"],
        "n_images": len(rows),
        "seed": recipe.seed,
        **{m: (float(table[m].mean()) if m in table else None) for m in METRICS},
        "input_psnr": float(table["input_psnr"].mean()),
        "seconds_per_image": float(table["seconds"].mean()),
        "unavailable": unavailable,
        # The figure's PNGs: stems, in the folder given relative to this summary.
        "samples": saved,
        "samples_dir": os.path.relpath(sample_dir, Path(summary_path).parent),
        "protocol": protocol_of(
            pairs.protocol.get("levels"), selection, recipe, metrics, lpips_backbone
        ),
    }
    atomic.write_json(summary_path, summary, indent=2)
    return summary

"""Training one variant on one camera's packed cache.

The schedule is the paper's (section 4.2) with every value a parameter: Adam at ``lr`` and
``lr * lr_decay_factor`` from epoch ``lr_decay_epoch`` on, one random short exposure per
scene per epoch, flips and transpose, fixed or multi-size crops as the variant declares, and
the variant's loss. A loss that turns NaN or infinite stops the run with a clear error; the
weights saved before it are kept. Curves (loss, lr, validation PSNR) go to dvclive.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from gianet.checkpoint import save_checkpoint
from gianet.data.dataset import CropPolicy, FullFrames, PackedPairs, TrainPatches
from gianet.losses import build_loss
from gianet.metrics import psnr
from gianet.models import build_model
from gianet.variants import Variant


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports."""

    epochs: int
    final_loss: float
    seconds: float
    val_psnr: float | None


def build_for_cache(variant: Variant, pairs: PackedPairs) -> torch.nn.Module:
    """The variant's network, sized for the cache's CFA (4 or 9 input channels)."""
    return build_model(
        variant.arch, in_channels=pairs.in_channels, upscale=pairs.upscale, **variant.arch_args
    )


@torch.no_grad()
def validate(model: torch.nn.Module, pairs: PackedPairs, device: torch.device) -> float:
    """Mean PSNR (dB) of clipped outputs on full validation frames."""
    model.eval()
    scores = []
    for inputs, target, _ in FullFrames(pairs):
        output = model(inputs[None].to(device)).clamp(0, 1)
        scores.append(psnr(output, target[None].to(device)).item())
    model.train()
    return sum(scores) / len(scores)


def learning_rate(epoch: int, train: dict) -> float:
    """The paper's step schedule: ``lr`` then ``lr * lr_decay_factor`` from ``lr_decay_epoch``."""
    decayed = train["lr_decay_epoch"] and epoch >= train["lr_decay_epoch"]
    return train["lr"] * (train["lr_decay_factor"] if decayed else 1.0)


def train_variant(
    variant: Variant,
    cache_dir: str | Path,
    model_path: str | Path,
    log_dir: str | Path,
    train: dict,
    *,
    camera: str,
    progress: bool = True,
) -> TrainResult:
    """Train ``variant`` on ``cache_dir``'s train split and save the weights to ``model_path``.

    Args:
        variant: what to train (architecture, loss, crops).
        cache_dir: ``CACHE/{dataset}/{camera}`` with a manifest.
        model_path: where the final checkpoint goes (loadable with ``weights_only=True``).
        log_dir: dvclive folder for the training curves.
        train: the ``train`` section of params.yaml.
        camera: camera name, recorded in the checkpoint.
    """
    from dvclive import Live

    torch.manual_seed(train["seed"])
    torch.set_num_threads(train["threads"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_pairs = PackedPairs(cache_dir, "train", train["max_input"])
    val_pairs = PackedPairs(cache_dir, "val", train["max_input"])
    low, high = train["multi_size_b"]
    crops = CropPolicy(variant.crops, train["patch"], train["multi_size_a"], low, high)
    patches = TrainPatches(train_pairs, crops, train["seed"], train["batch_size"])
    generator = torch.Generator().manual_seed(train["seed"])
    loader = DataLoader(patches, batch_size=train["batch_size"], shuffle=True, generator=generator)
    model = build_for_cache(variant, train_pairs).to(device)
    loss_fn = build_loss(variant.loss, train["loss_gamma"])
    optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
    meta = {
        "variant": variant.name,
        "arch": variant.arch,
        "arch_args": dict(variant.arch_args),
        "camera": camera,
        "cfa": train_pairs.cfa,
        "in_channels": train_pairs.in_channels,
        "upscale": train_pairs.upscale,
    }
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    val_psnr = None
    epoch_loss = math.nan
    os.environ.setdefault("DVCLIVE_LOGLEVEL", "WARNING")
    with Live(str(log_dir), save_dvc_exp=False, dvcyaml=None) as live:
        bar = tqdm(range(train["epochs"]), desc=f"{camera} {variant.name}", disable=not progress)
        for epoch in bar:
            lr = learning_rate(epoch, train)
            for group in optimizer.param_groups:
                group["lr"] = lr
            patches.set_epoch(epoch)
            total = 0.0
            for inputs, target in loader:
                output = model(inputs.to(device))
                loss = loss_fn(output, target.to(device))
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"{variant.name} on {camera}: loss became {loss.item()} at epoch {epoch}; "
                        f"stopped. The last good weights are in {model_path} if it exists. "
                        "Lower train.lr or check the inputs."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item()
            epoch_loss = total / len(loader)
            live.log_metric("train/loss", epoch_loss)
            live.log_metric("train/lr", lr)
            last = epoch + 1 == train["epochs"]
            if train["val_every"] and ((epoch + 1) % train["val_every"] == 0 or last):
                val_psnr = validate(model, val_pairs, device) if val_pairs.pairs else None
                if val_psnr is not None:
                    live.log_metric("val/psnr", val_psnr)
            live.next_step()
            bar.set_postfix(loss=f"{epoch_loss:.4f}", val_psnr=val_psnr)
    save_checkpoint(model_path, model, meta | {"epochs": train["epochs"]})
    return TrainResult(train["epochs"], epoch_loss, time.perf_counter() - start, val_psnr)

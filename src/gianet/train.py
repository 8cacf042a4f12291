"""Training one variant on one camera's packed cache.

The schedule is the paper's (section 4.2) with every value a parameter: Adam at ``lr`` and
``lr * lr_decay_factor`` from epoch ``lr_decay_epoch`` on, one random short exposure per
scene per epoch, flips and transpose, fixed or multi-size crops as the variant declares, and
the variant's loss. Curves (loss, lr, validation PSNR) go to dvclive.

Long jobs survive clusters: a training state (weights, optimizer, epochs done) is written
every ``runtime.checkpoint_every`` epochs and when SIGTERM or SIGUSR1 arrives (what SLURM sends
before a time limit); a restarted job resumes from it. Every random draw is keyed by
(seed, epoch), so a resumed run ends with the same weights as an uninterrupted one. A loss
that turns NaN or infinite stops the run with a clear error and keeps the last good state.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from gianet.checkpoint import load_checkpoint, save_checkpoint, save_training_state
from gianet.curves_log import open_curves
from gianet.data.dataset import CropPolicy, FullFrames, PackedPairs, TrainPatches
from gianet.errors import GianetError
from gianet.interrupt import JobInterrupted, stop_requests
from gianet.losses import build_loss
from gianet.metrics import psnr
from gianet.models import build_model
from gianet.paths import state_file
from gianet.runtime import DEFAULT_RUNTIME, Runtime
from gianet.variants import Variant


class TrainingDiverged(GianetError, RuntimeError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(JobInterrupted):
    """A stop signal arrived; the state was saved and the job can be restarted."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports."""

    epochs: int
    resumed_from: int
    final_loss: float
    seconds: float
    val_psnr: float | None


@dataclass(frozen=True)
class Device:
    """Where and how the network runs: CUDA with bf16 autocast (``train.bf16``) and
    channels_last (``runtime.channels_last``) when available and enabled, plain float32 on
    the CPU otherwise."""

    device: torch.device
    bf16: bool
    channels_last: bool

    @classmethod
    def choose(cls, runtime: Runtime, bf16: bool) -> Device:
        device = runtime.torch_device()
        cuda = device.type == "cuda"
        return cls(device, cuda and bf16, cuda and runtime.channels_last)

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def batch(self, tensor: torch.Tensor) -> torch.Tensor:
        """Move a (N, C, H, W) batch to the device in the chosen memory format."""
        tensor = tensor.to(self.device, non_blocking=True)
        return (
            tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor
        )


def build_for_cache(variant: Variant, pairs: PackedPairs) -> torch.nn.Module:
    """The variant's network, sized for the cache's CFA (4 or 9 input channels)."""
    return build_model(
        variant.arch, in_channels=pairs.in_channels, upscale=pairs.upscale, **variant.arch_args
    )


@torch.no_grad()
def validate(model: torch.nn.Module, pairs: PackedPairs, device: Device) -> float:
    """Mean PSNR (dB) of clipped outputs on full validation frames."""
    model.eval()
    scores = []
    for inputs, target, _ in FullFrames(pairs):
        with device.autocast():
            output = model(device.batch(inputs[None]))
        scores.append(psnr(output.float().clamp(0, 1), target[None].to(device.device)).item())
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
    runtime: Runtime = DEFAULT_RUNTIME,
) -> TrainResult:
    """Train ``variant`` on ``cache_dir``'s train split and save the weights to ``model_path``.

    Resumes from ``train_state.pt`` beside ``model_path`` when an earlier run left one.

    Args:
        variant: what to train (architecture, loss, crops).
        cache_dir: ``CACHE/{dataset}/{camera}`` with a manifest.
        model_path: where the final checkpoint goes (loadable with ``weights_only=True``).
        log_dir: dvclive folder for the training curves.
        train: the ``train`` section of params.yaml (what the weights depend on).
        camera: camera name, recorded in the checkpoint.
        runtime: threads, device, loader processes, checkpoint and validation cadence.

    Raises:
        TrainingDiverged: the loss became NaN or infinite (the last saved state is kept).
        TrainingInterrupted: SIGTERM/SIGUSR1 arrived (the state was saved just before).
    """
    torch.manual_seed(train["seed"])
    torch.set_num_threads(runtime.threads)
    device = Device.choose(runtime, train["bf16"])
    train_pairs = PackedPairs(cache_dir, "train", train["max_input"])
    val_pairs = PackedPairs(cache_dir, "val", train["max_input"])
    low, high = train["multi_size_b"]
    crops = CropPolicy(variant.crops, train["patch"], train["multi_size_a"], low, high)
    patches = TrainPatches(train_pairs, crops, train["seed"], train["batch_size"])
    order = torch.Generator()
    loader = DataLoader(
        patches,
        batch_size=train["batch_size"],
        shuffle=True,
        generator=order,
        num_workers=runtime.loader_workers,
        pin_memory=device.device.type == "cuda",
    )
    model = build_for_cache(variant, train_pairs).to(device.device)
    if device.channels_last:
        model = model.to(memory_format=torch.channels_last)
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
    resume = state_file(model_path)
    start_epoch, partial = 0, {"steps": 0, "loss_sum": 0.0}
    # A state saved under other settings is not resumed: its weights answer another question.
    meta["settings"] = json.dumps({"train": train, "variant": asdict(variant)}, sort_keys=True)
    if resume.exists():
        state = load_checkpoint(resume)
        if state.get("settings") == meta["settings"]:
            model.load_state_dict(state["state_dict"])
            optimizer.load_state_dict(state["optimizer"])
            start_epoch = int(state["epochs_done"])
            partial = {"steps": int(state["steps"]), "loss_sum": float(state["loss_sum"])}
            print(
                f"{resume}: resuming {variant.name} on {camera} at epoch {start_epoch}, "
                f"step {partial['steps']}",
                flush=True,
            )
        else:
            print(f"{resume}: saved under other settings; training from the start")

    def save_state(epochs_done: int, within: dict | None = None) -> None:
        """Save after ``epochs_done`` whole epochs plus ``within`` (steps into the next)."""
        progress_in_epoch = within or {"steps": 0, "loss_sum": 0.0}
        save_training_state(resume, model, optimizer, epochs_done, meta | progress_in_epoch)

    start = time.perf_counter()
    val_psnr = None
    epoch_loss = math.nan
    with (
        stop_requests() as stops,
        open_curves(log_dir, start_epoch) as live,
    ):
        epochs = range(start_epoch, train["epochs"])
        bar = tqdm(epochs, desc=f"{camera} {variant.name}", disable=not runtime.progress)
        for epoch in bar:
            lr = learning_rate(epoch, train)
            for group in optimizer.param_groups:
                group["lr"] = lr
            patches.set_epoch(epoch)
            order.manual_seed(train["seed"] * 1_000_003 + epoch)  # the epoch's shuffle
            total, skip = (
                (partial["loss_sum"], partial["steps"]) if epoch == start_epoch else (0.0, 0)
            )
            for step, (inputs, target) in enumerate(loader):
                if step < skip:
                    continue  # done before the interruption; the epoch's draws are keyed
                if stops:
                    # Resume will redo this epoch from this step on, with the same draws.
                    save_state(epoch, {"steps": step, "loss_sum": total})
                    raise TrainingInterrupted(
                        f"{variant.name} on {camera}: signal {stops[0]} received; state "
                        f"saved to {resume} at epoch {epoch}, step {step}. Rerun the same "
                        "command to resume."
                    )
                with device.autocast():
                    output = model(device.batch(inputs))
                loss = loss_fn(output.float(), device.batch(target))
                if not torch.isfinite(loss):
                    kept = (
                        f"the last good state ({resume}) is kept"
                        if resume.exists()
                        else "no state was saved yet"
                    )
                    raise TrainingDiverged(
                        f"{variant.name} on {camera}: loss became {loss.item()} at epoch "
                        f"{epoch}; stopped, {kept}. Lower train.lr or check the inputs."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item()
            epoch_loss = total / len(loader)
            live.log_metric("train/loss", epoch_loss)
            live.log_metric("train/lr", lr)
            last = epoch + 1 == train["epochs"]
            if runtime.val_every and ((epoch + 1) % runtime.val_every == 0 or last):
                val_psnr = validate(model, val_pairs, device)
                live.log_metric("val/psnr", val_psnr)
            live.next_step()
            if runtime.checkpoint_every and (epoch + 1) % runtime.checkpoint_every == 0:
                save_state(epoch + 1)
            bar.set_postfix(loss=f"{epoch_loss:.4f}", val_psnr=val_psnr)
    save_checkpoint(model_path, model, meta | {"epochs": train["epochs"]})
    resume.unlink(missing_ok=True)
    return TrainResult(
        train["epochs"], start_epoch, epoch_loss, time.perf_counter() - start, val_psnr
    )

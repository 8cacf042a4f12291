"""Training one variant on one camera's packed cache.

The schedule is the paper's (section 4.2) with every value a parameter: Adam at ``lr`` and
``lr * lr_decay_factor`` from epoch ``lr_decay_epoch`` on, one random short exposure per
scene per epoch (``train.shots``: its ``_00`` shots, as SID's code, or all), flips and
transpose (``train.flips``), fixed or multi-size crops as the variant declares, the variant's
loss (MS-SSIM exponents ``train.msssim_exponents``, ``train.loss_gamma`` on the term
``train.loss_gamma_term``), the network initialised as ``train.init`` says and computed in the
precision ``train.precision`` names (:mod:`gianet.jobs.device`).
Curves (loss, lr, validation PSNR) go to dvclive, or to any logger passed in.

Long jobs survive clusters: a training state (weights, optimizer, epochs done) is written
every ``runtime.checkpoint_every`` epochs and when SIGTERM or SIGUSR1 arrives (what SLURM sends
before a time limit); a restarted job resumes from it. Every random draw is keyed by
(seed, epoch, index), so a resumed run ends with the same weights as an uninterrupted one,
whatever the number of loader processes.

At GPU speed nothing waits for the GPU within an epoch: the data path converts on the device
(:mod:`gianet.training.feed`), the step accumulates its loss on the device and may be replayed from
CUDA graphs (:mod:`gianet.training.step`), and the losses are read back once per epoch. A loss
that turns NaN or infinite is noticed there: the run stops with an error naming the epoch and
step, before anything is saved, so the last good state is kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from gianet.data.cache import load_manifest
from gianet.data.dataset import (
    CropPolicy,
    EpochBatches,
    FullFrames,
    PackedPairs,
    TrainPatches,
    frame_to_network,
)
from gianet.errors import GianetError
from gianet.evaluation.metrics import psnr
from gianet.jobs.device import Device
from gianet.jobs.interrupt import JobInterrupted, stop_requests
from gianet.jobs.runtime import DEFAULT_RUNTIME, Runtime
from gianet.models import build_model, initialise
from gianet.models.checkpoint import load_checkpoint, save_checkpoint, save_training_state
from gianet.paths import state_file
from gianet.training.curves_log import open_curves
from gianet.training.feed import device_batches, training_loader
from gianet.training.losses import build_loss
from gianet.training.step import build_step, load_optimizer_state, make_optimizer
from gianet.variants import Variant, arch_args


class TrainingDiverged(GianetError, RuntimeError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(JobInterrupted):
    """A stop signal arrived; the state was saved and the job can be restarted."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports (``steps``: optimisation steps run by this call)."""

    epochs: int
    resumed_from: int
    final_loss: float
    seconds: float
    val_psnr: float | None
    steps: int = 0


class Curves(Protocol):
    """Where training curves go (dvclive's ``Live`` is one): used as a context manager."""

    def log_metric(self, name: str, value: float) -> Any: ...

    def next_step(self) -> Any: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc_info: object) -> Any: ...


def build_for_cache(
    variant: Variant, pairs: PackedPairs, arguments: dict, init: str
) -> torch.nn.Module:
    """The variant's network, sized for the cache's CFA (4 or 9 input channels), built with
    ``arguments`` (:func:`gianet.variants.arch_args`) and initialised as ``init`` says."""
    model = build_model(
        variant.arch, in_channels=pairs.in_channels, upscale=pairs.upscale, **arguments
    )
    return initialise(model, init)


@torch.no_grad()
def validate(model: torch.nn.Module, pairs: PackedPairs, device: Device) -> float:
    """Mean PSNR (dB) of clipped outputs on full validation frames."""
    model.eval()
    scores = []
    for frame in FullFrames(pairs):
        inputs, target = frame_to_network(frame, device.device, pairs.max_input)
        with device.autocast():
            output = model(device.batch(inputs[None]))
        scores.append(psnr(output.float().clamp(0, 1), target[None]))
    model.train()
    return torch.stack(scores).mean().item()


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
    curves: Callable[[Path, int], Curves] = open_curves,
    on_start: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``variant`` on ``cache_dir``'s train split and save the weights to ``model_path``.

    Resumes from ``train_state.pt`` beside ``model_path`` when an earlier run left one.

    Args:
        variant: what to train (architecture, loss, crops).
        cache_dir: ``CACHE/{dataset}/{camera}`` with a manifest.
        model_path: where the final checkpoint goes (loadable with ``weights_only=True``).
        log_dir: folder for the training curves.
        train: the ``train`` section of params.yaml (what the weights depend on).
        camera: camera name, recorded in the checkpoint.
        runtime: threads, device, loader processes, CUDA graphs, checkpoint and validation
            cadence.
        curves: ``curves(log_dir, resume_epoch)`` opens the curve logger for a run starting
            at that epoch (default: dvclive, continuous across resumes,
            :func:`gianet.training.curves_log.open_curves`).
        on_start: told, in one sentence, where this run starts (the epoch and step it
            resumes from, or epoch 0 and why); the sentence is printed too.

    Raises:
        CacheError: the cache's manifest is missing or damaged, or lacks the train or val
            split (before any work).
        TrainingDiverged: the loss became NaN or infinite (the last saved state is kept).
        TrainingInterrupted: SIGTERM/SIGUSR1 arrived (the state was saved just before).
    """
    manifest = load_manifest(cache_dir, ("train", "val"))
    torch.manual_seed(train["seed"])
    torch.set_num_threads(runtime.threads)
    device = Device.choose(runtime, train["precision"])
    train_pairs = PackedPairs(cache_dir, "train", train["max_input"], manifest)
    val_pairs = PackedPairs(cache_dir, "val", train["max_input"], manifest)
    # A variant's settings leave out what it does not use (gianet.variants.train_settings_for).
    low, high = train.get("multi_size_b", (None, None))
    crops = CropPolicy(variant.crops, train.get("patch"), train.get("multi_size_a"), low, high)
    patches = TrainPatches(
        train_pairs, crops, train["seed"], shots=train["shots"], flips=train["flips"]
    )
    arguments = arch_args(variant, train.get("extra_convs_kernel"))
    model = device.prepare(build_for_cache(variant, train_pairs, arguments, train["init"]))
    loss_fn = build_loss(
        variant.loss,
        train.get("loss_gamma", 1.0),
        exponents=train.get("msssim_exponents", "paper"),
        gamma_term=train.get("loss_gamma_term", "l1"),
    )
    optimizer = make_optimizer(model, train["lr"], device)
    meta = {
        "variant": variant.name,
        "arch": variant.arch,
        "arch_args": arguments,
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
    where = f"no saved state ({resume}): training from epoch 0"
    ended: dict = {}
    if resume.exists():
        state = load_checkpoint(resume)
        if state.get("settings") == meta["settings"]:
            model.load_state_dict(state["state_dict"])
            load_optimizer_state(optimizer, state["optimizer"])
            start_epoch = int(state["epochs_done"])
            partial = {"steps": int(state["steps"]), "loss_sum": float(state["loss_sum"])}
            ended = {k: state[k] for k in ("last_loss", "last_val_psnr") if k in state}
            where = (
                f"{resume}: resuming {variant.name} on {camera} at epoch {start_epoch}, "
                f"step {partial['steps']}"
            )
        else:
            where = f"{resume}: saved under other settings; training from epoch 0"
    print(where, flush=True)
    if on_start is not None:
        on_start(where)

    def save_state(epochs_done: int, within: dict | None = None) -> None:
        """Save after ``epochs_done`` whole epochs plus ``within`` (steps into the next)."""
        progress_in_epoch = {"steps": 0, "loss_sum": 0.0} | (within or {})
        save_training_state(resume, model, optimizer, epochs_done, meta | progress_in_epoch)

    def check_finite(epoch: int) -> float:
        """The epoch's loss sum so far; raises TrainingDiverged if a loss was not finite
        (nothing of this epoch has been saved)."""
        totals = step.totals()
        if totals.first_nonfinite < 0:
            return totals.loss_sum
        kept = (
            f"the last good state ({resume}) is kept"
            if resume.exists()
            else "no state was saved yet"
        )
        raise TrainingDiverged(
            f"{variant.name} on {camera}: loss became {totals.nonfinite_loss} at epoch {epoch} "
            f"(first at step {totals.first_nonfinite} of the epoch); stopped, {kept}. Lower "
            "train.lr or check the inputs."
        )

    batches = EpochBatches(
        len(patches),
        train["batch_size"],
        train["seed"],
        train["epochs"],
        start_epoch,
        partial["steps"],
    )
    loader = training_loader(patches, batches, runtime.loader_workers, device.cuda)
    step, run_step = build_step(
        model,
        loss_fn,
        optimizer,
        device,
        cuda_graphs=runtime.cuda_graphs,
        compile=runtime.compile,
    )
    start = time.perf_counter()
    # A run resumed after all epochs (stopped at the very end) reports the last one's values.
    val_psnr = ended.get("last_val_psnr")
    epoch_loss = float(ended.get("last_loss", float("nan")))
    steps_run = 0
    with (
        device.math(),
        device.autotuned(),
        stop_requests() as stops,
        curves(Path(log_dir), start_epoch) as live,
    ):
        feed = device_batches(loader, device, train["max_input"])
        epochs = range(start_epoch, train["epochs"])
        bar = tqdm(epochs, desc=f"{camera} {variant.name}", disable=not runtime.progress)
        for epoch in bar:
            lr = learning_rate(epoch, train)
            for group in optimizer.param_groups:
                group["lr"] = lr
            first = partial["steps"] if epoch == start_epoch else 0
            step.start_epoch(partial["loss_sum"] if epoch == start_epoch else 0.0, first)
            for number in range(first, batches.steps_per_epoch):
                if stops:
                    # Resume will redo this epoch from this step on, with the same draws.
                    loss_sum = check_finite(epoch)
                    save_state(epoch, {"steps": number, "loss_sum": loss_sum})
                    raise TrainingInterrupted(
                        f"{variant.name} on {camera}: signal {stops[0]} received; state "
                        f"saved to {resume} at epoch {epoch}, step {number}."
                    )
                run_step(*next(feed))
                steps_run += 1
            loss_sum = check_finite(epoch)
            epoch_loss = loss_sum / batches.steps_per_epoch
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
        if stops:
            # After the last step: on SLURM the job runner inside the job got the signal too
            # and fails the job however this run ends; keep the state for the next run.
            save_state(train["epochs"], {"last_loss": epoch_loss, "last_val_psnr": val_psnr})
            raise TrainingInterrupted(
                f"{variant.name} on {camera}: signal {stops[0]} received after the last "
                f"epoch; state saved to {resume}, the next run only writes the weights."
            )
    save_checkpoint(model_path, model, meta | {"epochs": train["epochs"]})
    resume.unlink(missing_ok=True)
    return TrainResult(
        train["epochs"],
        start_epoch,
        epoch_loss,
        time.perf_counter() - start,
        val_psnr,
        steps_run,
    )

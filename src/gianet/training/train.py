"""Training one variant on one camera's packed cache, as its recipe says.

The schedule is the paper's (section 4.2) with every value in the recipe
(:mod:`gianet.training.recipe`): Adam at ``lr`` and ``lr * lr_decay_factor`` from epoch
``lr_decay_epoch`` on, one random short exposure per scene per epoch (``train.shots``), flips
and transpose (``train.flips``), the variant's crops and loss, the network initialised as
``train.init`` says and computed in ``train.precision`` (:mod:`gianet.jobs.device`). Curves
(loss, lr, validation PSNR) go to a log in dvclive's format, or to any logger passed in.

Long jobs survive clusters: a training state (weights, optimizer, epochs done) is written
every ``runtime.checkpoint_every`` epochs and when SIGTERM or SIGUSR1 arrives (what SLURM sends
before a time limit); a restarted job resumes from it. Every random draw is keyed by
(seed, epoch, index), so a resumed run ends with the same weights as an uninterrupted one,
whatever the number of loader processes.

At GPU speed nothing waits for the GPU within an epoch: the data path converts on the device
(:mod:`gianet.training.feed`), the step accumulates its loss on the device and may be replayed
from CUDA graphs (:mod:`gianet.training.step`), and the losses are read back once per epoch.
A loss that turns NaN or infinite is noticed there: the run stops with an error naming the
epoch and step, before anything is saved, so the last good state is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from gianet.data.dataset import EpochBatches, FullFrames, PackedPairs, TrainPatches
from gianet.data.tensors import frame_to_network
from gianet.errors import GianetError
from gianet.evaluation.metrics import psnr
from gianet.jobs.cpus import bounded
from gianet.jobs.device import Device
from gianet.jobs.interrupt import JobInterrupted, stop_requests
from gianet.models import build_model, finite, initialise
from gianet.models.checkpoint import load_training_state, save_checkpoint, save_training_state
from gianet.paths import state_file
from gianet.settings.sections import Runtime
from gianet.training.curves_log import open_curves
from gianet.training.feed import device_batches, training_loader
from gianet.training.losses import build_loss
from gianet.training.recipe import Recipe
from gianet.training.step import build_step, load_optimizer_state, make_optimizer


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
    """Where training curves go (:class:`gianet.training.curves_log.CurveLog` is one): used as
    a context manager."""

    def log_metric(self, name: str, value: float) -> Any: ...

    def next_step(self) -> Any: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc_info: object) -> Any: ...


@torch.no_grad()
def validate(model: torch.nn.Module, pairs: PackedPairs, device: Device) -> float:
    """Mean PSNR (dB) of clipped outputs on full validation frames.

    Raises:
        gianet.models.finite.NonFiniteOutput: an output is NaN or infinite somewhere (the
            training's last saved state is kept).
    """
    model.eval()
    scores = []
    for frame in FullFrames(pairs):
        inputs, target = frame_to_network(frame, device.device, pairs.max_input)
        with device.autocast():
            output = model(device.batch(inputs[None]))
        finite.check_finite(
            output,
            f"validation on {pairs.pairs[int(frame['index'])].short}",
            "training stopped, its last saved state is kept",
            "Lower train.lr, or check the inputs, and train again",
        )
        scores.append(psnr(output.float().clamp(0, 1), target[None]))
    model.train()
    return torch.stack(scores).mean().item()


@dataclass
class _Progress:
    """Where a run stands: whole epochs done, and steps (with their loss sum) into the next;
    for a state saved after the last epoch, that epoch's loss and validation PSNR."""

    epoch: int = 0
    steps: int = 0
    loss_sum: float = 0.0
    where: str = ""
    last_loss: float = float("nan")
    last_val_psnr: float | None = None


def _build(recipe: Recipe, pairs: PackedPairs, camera: str, device: Device):
    """The network (initialised as the recipe says), its loss, its optimizer, and what the
    checkpoint records to rebuild it."""
    model = build_model(
        recipe.arch, in_channels=pairs.in_channels, upscale=pairs.upscale, **recipe.arch_args
    )
    model = device.prepare(initialise(model, recipe.init))
    meta = {
        "variant": recipe.variant,
        "arch": recipe.arch,
        "arch_args": dict(recipe.arch_args),
        "camera": camera,
        "cfa": pairs.cfa,
        "in_channels": pairs.in_channels,
        "upscale": pairs.upscale,
        "recipe": recipe.model_dump_json(),
    }
    return model, build_loss(recipe.loss), make_optimizer(model, recipe.lr, device), meta


def _resume(state: Path, meta: dict, model, optimizer) -> _Progress:
    """Load the training state an earlier run left, when it was made by this very recipe (a
    state saved under another one answers another question and is not resumed)."""
    saved = load_training_state(state)
    if saved is None:
        return _Progress(where=f"no saved state ({state}): training from epoch 0")
    if saved.get("recipe") != meta["recipe"]:
        return _Progress(where=f"{state}: saved under another recipe; training from epoch 0")
    model.load_state_dict(saved["state_dict"])
    load_optimizer_state(optimizer, saved["optimizer"])
    progress = _Progress(int(saved["epochs_done"]), int(saved["steps"]), float(saved["loss_sum"]))
    progress.last_loss = float(saved.get("last_loss", float("nan")))
    progress.last_val_psnr = saved.get("last_val_psnr")
    progress.where = (
        f"{state}: resuming {meta['variant']} on {meta['camera']} at epoch {progress.epoch}, "
        f"step {progress.steps}"
    )
    return progress


def train_variant(
    recipe: Recipe,
    train_pairs: PackedPairs,
    val_pairs: PackedPairs,
    model_path: str | Path,
    log_dir: str | Path,
    *,
    camera: str,
    runtime: Runtime,
    curves: Callable[[Path, int], Curves] = open_curves,
    on_start: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train as ``recipe`` says and save the weights to ``model_path``.

    Resumes from ``train_state.pt`` beside ``model_path`` when an earlier run of the same
    recipe left one.

    Args:
        recipe: what to train and how (:class:`gianet.training.recipe.Recipe`).
        train_pairs: the cache's training split.
        val_pairs: the validation frames (``train.val_exposures``).
        model_path: where the final checkpoint goes (loadable with ``weights_only=True``).
        log_dir: folder for the training curves.
        camera: camera name, recorded in the checkpoint.
        runtime: threads, device, loader processes, CUDA graphs, checkpoint and validation
            cadence.
        curves: ``curves(log_dir, resume_epoch)`` opens the curve logger for a run starting
            at that epoch (default: dvclive's files, continuous across resumes,
            :func:`gianet.training.curves_log.open_curves`).
        on_start: told, in one sentence, where this run starts (the epoch and step it
            resumes from, or epoch 0 and why); the sentence is printed too.

    Raises:
        TrainingDiverged: the loss became NaN or infinite (the last saved state is kept).
        TrainingInterrupted: SIGTERM/SIGUSR1 arrived (the state was saved just before).
    """
    torch.manual_seed(recipe.seed)
    torch.set_num_threads(bounded(runtime.threads, "runtime.threads"))
    device = Device.choose(runtime, recipe.precision)
    model, loss_fn, optimizer, meta = _build(recipe, train_pairs, camera, device)
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    state = state_file(model_path)
    progress = _resume(state, meta, model, optimizer)
    print(progress.where, flush=True)
    if on_start is not None:
        on_start(progress.where)
    patches = TrainPatches(
        train_pairs, recipe.crops, recipe.seed, shots=recipe.shots, flips=recipe.flips
    )
    batches = EpochBatches(
        len(patches),
        recipe.batch_size,
        recipe.seed,
        recipe.epochs,
        progress.epoch,
        progress.steps,
    )
    loader = training_loader(patches, batches, runtime.loader_workers, device.cuda)
    step, run_step = build_step(
        model, loss_fn, optimizer, device, cuda_graphs=runtime.cuda_graphs, compile=runtime.compile
    )
    run = _Run(recipe, camera, model, optimizer, step, state, meta)
    # A run resumed after all epochs (stopped at the very end) reports the last one's values.
    run.epoch_loss, run.val_psnr = progress.last_loss, progress.last_val_psnr
    start = time.perf_counter()
    with (
        device.math(),
        device.autotuned(),
        stop_requests() as stops,
        curves(Path(log_dir), progress.epoch) as live,
    ):
        feed = device_batches(loader, device, recipe.max_input)
        for epoch in tqdm(
            range(progress.epoch, recipe.epochs),
            desc=f"{camera} {recipe.variant}",
            disable=not runtime.progress,
        ):
            first = progress.steps if epoch == progress.epoch else 0
            loss_sum = progress.loss_sum if epoch == progress.epoch else 0.0
            run.epoch(epoch, first, loss_sum, batches.steps_per_epoch, feed, run_step, stops)
            run.log(live, epoch, batches.steps_per_epoch, runtime, val_pairs, device)
        run.stop_after_the_last_epoch(stops)
    save_checkpoint(model_path, model, meta | {"epochs": recipe.epochs})
    state.unlink(missing_ok=True)
    return TrainResult(
        recipe.epochs,
        progress.epoch,
        run.epoch_loss,
        time.perf_counter() - start,
        run.val_psnr,
        run.steps_run,
    )


class _Run:
    """The epochs of one run: steps, divergence checks, saved states and curves."""

    def __init__(self, recipe, camera, model, optimizer, step, state: Path, meta: dict):
        self.recipe, self.camera = recipe, camera
        self.model, self.optimizer, self.step = model, optimizer, step
        self.state, self.meta = state, meta
        self.epoch_loss = float("nan")
        self.val_psnr: float | None = None
        self.steps_run = 0
        self.lr = recipe.lr

    def save(self, epochs_done: int, steps: int = 0, loss_sum: float = 0.0) -> None:
        """Save after ``epochs_done`` whole epochs plus ``steps`` into the next."""
        within = {"steps": steps, "loss_sum": loss_sum}
        save_training_state(self.state, self.model, self.optimizer, epochs_done, self.meta | within)

    def finite_loss_sum(self, epoch: int) -> float:
        """The epoch's loss sum so far; raises TrainingDiverged if a loss was not finite
        (nothing of this epoch has been saved)."""
        totals = self.step.totals()
        if totals.first_nonfinite < 0:
            return totals.loss_sum
        kept = (
            f"the last good state ({self.state}) is kept"
            if self.state.exists()
            else "no state was saved yet"
        )
        raise TrainingDiverged(
            f"{self.recipe.variant} on {self.camera}: loss became {totals.nonfinite_loss} at "
            f"epoch {epoch} (first at step {totals.first_nonfinite} of the epoch); stopped, "
            f"{kept}. Lower train.lr or check the inputs."
        )

    def epoch(self, epoch, first, loss_sum, steps_per_epoch, feed, run_step, stops) -> None:
        """Run one epoch's steps from step ``first`` on; on a stop signal save and raise."""
        self.lr = self.recipe.learning_rate(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        self.step.start_epoch(loss_sum, first)
        for number in range(first, steps_per_epoch):
            if stops:
                # A resumed run redoes this epoch from this step on, with the same draws.
                self.save(epoch, number, self.finite_loss_sum(epoch))
                raise TrainingInterrupted(
                    f"{self.recipe.variant} on {self.camera}: signal {stops[0]} received; "
                    f"state saved to {self.state} at epoch {epoch}, step {number}"
                )
            run_step(*next(feed))
            self.steps_run += 1
        self.epoch_loss = self.finite_loss_sum(epoch) / steps_per_epoch

    def stop_after_the_last_epoch(self, stops) -> None:
        """A stop signal that arrived after the last step: on SLURM the job runner inside the
        job got it too and fails the job however this run ends (its outputs are then
        removed), so keep the state, with the last epoch's values, for the next run, which
        only writes the weights."""
        if not stops:
            return
        done = {"steps": 0, "loss_sum": 0.0, "last_loss": self.epoch_loss}
        done["last_val_psnr"] = self.val_psnr
        save_training_state(
            self.state, self.model, self.optimizer, self.recipe.epochs, self.meta | done
        )
        raise TrainingInterrupted(
            f"{self.recipe.variant} on {self.camera}: signal {stops[0]} received after the last "
            f"epoch; state saved to {self.state}, the next run only writes the weights"
        )

    def log(self, live, epoch, steps_per_epoch, runtime, val_pairs, device) -> None:
        """The epoch's curves, validation and saved state, at the runtime's cadences."""
        live.log_metric("train/loss", self.epoch_loss)
        live.log_metric("train/lr", self.lr)
        last = epoch + 1 == self.recipe.epochs
        if runtime.val_every and ((epoch + 1) % runtime.val_every == 0 or last):
            self.val_psnr = validate(self.model, val_pairs, device)
            live.log_metric("val/psnr", self.val_psnr)
        live.next_step()
        if runtime.checkpoint_every and (epoch + 1) % runtime.checkpoint_every == 0:
            self.save(epoch + 1)

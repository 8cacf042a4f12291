"""Training: resumable after SIGTERM with identical weights whatever the loader processes,
checkpoints, divergence, and the GPU options (precision, memory format) on the CPU."""

import json
import math
import os
import signal

import numpy as np
import pytest
import torch

from gianet.data.dataset import PackedPairs
from gianet.data.lists import Selection
from gianet.jobs.device import Device, DeviceUnavailable
from gianet.models.checkpoint import load_checkpoint, load_model
from gianet.paths import state_file
from gianet.training import train as train_module
from gianet.training.recipe import Recipe, recipe_of
from gianet.training.train import TrainingDiverged, TrainingInterrupted, train_variant
from tests.conftest import noisy_clean_scenes, recipe, runtime, write_packed_cache


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    scenes = noisy_clean_scenes(np.random.default_rng(1), 24, 32, shots=2, gt_suffix=".tif")
    write_packed_cache(folder, scenes)
    return folder


def settings(variant: str = "sid_net", **changes) -> Recipe:
    return recipe(variant, **({"epochs": 4, "lr_decay_epoch": 2, "patch": 16} | changes))


# On the CPU even where a GPU is present: these tests compare weights bit for bit, and cuDNN's
# benchmarked algorithms need not repeat (tests/test_gpu.py covers the GPU path).
RUNTIME = runtime(threads=1, device="cpu", val_every=2, checkpoint_every=1, progress=False)
ALL = Selection(exposures="all", exclude_scenes=[])


def weights(path):
    return load_checkpoint(path)["state_dict"]


def run(cache, out, trained: Recipe, runtime=RUNTIME, on_start=None):
    return train_variant(
        trained,
        PackedPairs(cache, "train", trained.max_input),
        PackedPairs(cache, "val", trained.max_input, selection=ALL),
        out / "model.pt",
        out / "log",
        camera="Sony",
        runtime=runtime,
        on_start=on_start,
    )


def stop_at_epoch(monkeypatch, stop_epoch, number=signal.SIGTERM):
    """Send ``number`` to this process as epoch ``stop_epoch`` starts, once."""
    original = Recipe.learning_rate
    sent = []

    def learning_rate(self, epoch):
        if epoch == stop_epoch and not sent:
            sent.append(epoch)
            os.kill(os.getpid(), number)  # as SLURM does before a time limit
        return original(self, epoch)

    monkeypatch.setattr(Recipe, "learning_rate", learning_rate)


def stop_after_batches(monkeypatch, count):
    """Send SIGTERM once ``count`` batches have reached the device (mid-epoch)."""
    original = train_module.device_batches

    def device_batches(*args, **kwargs):
        for number, batch in enumerate(original(*args, **kwargs), start=1):
            if number == count:
                os.kill(os.getpid(), signal.SIGTERM)
            yield batch

    monkeypatch.setattr(train_module, "device_batches", device_batches)


def same_weights(first, second):
    a, b = weights(first), weights(second)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_and_resumed_run_ends_with_identical_weights(cache, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    run(cache, tmp_path / "straight", settings())
    with monkeypatch.context() as patch:
        stop_at_epoch(patch, 2)
        with pytest.raises(TrainingInterrupted, match="state saved to .* at epoch 2, step 0"):
            run(cache, tmp_path / "resumed", settings())
    state = load_checkpoint(state_file(tmp_path / "resumed" / "model.pt"))
    assert state["epochs_done"] == 2
    result = run(cache, tmp_path / "resumed", settings())
    assert result.resumed_from == 2 and result.steps == 2 * 3
    assert same_weights(tmp_path / "straight/model.pt", tmp_path / "resumed/model.pt")
    assert not state_file(tmp_path / "resumed" / "model.pt").exists()  # done: state removed
    curves = json.loads((tmp_path / "resumed" / "log" / "metrics.json").read_text())
    assert curves["step"] == 3 and "psnr" in curves["val"]


def test_a_stop_after_the_last_step_keeps_the_state_and_the_next_run_writes_the_weights(
    cache, tmp_path, monkeypatch
):
    """SLURM's warning may land during the last validation or save: the job runner got it too
    and fails that run whatever happens, so the state is kept for the next run."""
    torch.set_num_threads(1)
    straight = run(cache, tmp_path / "straight", settings())
    original = train_module.validate
    calls = []

    def validate(*args):
        calls.append(1)
        if len(calls) == 2:  # the last epoch's validation (val_every 2, 4 epochs)
            os.kill(os.getpid(), signal.SIGTERM)
        return original(*args)

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "validate", validate)
        with pytest.raises(TrainingInterrupted, match="after the last epoch"):
            run(cache, tmp_path / "late", settings())
    assert not (tmp_path / "late" / "model.pt").exists()
    assert load_checkpoint(state_file(tmp_path / "late" / "model.pt"))["epochs_done"] == 4
    said = []
    late = run(cache, tmp_path / "late", settings(), on_start=said.append)
    assert "resuming sid_net on Sony at epoch 4, step 0" in said[0]
    assert (late.resumed_from, late.steps) == (4, 0)
    assert (late.final_loss, late.val_psnr) == (straight.final_loss, straight.val_psnr)
    assert same_weights(tmp_path / "straight/model.pt", tmp_path / "late/model.pt")
    assert not state_file(tmp_path / "late" / "model.pt").exists()


def test_loader_processes_change_nothing_even_across_a_mid_epoch_resume(
    cache, tmp_path, monkeypatch
):
    """0 and 2 loader processes give the same weights, and so does a run stopped by SIGTERM
    in the middle of an epoch and resumed with 2 processes: every draw is keyed."""
    torch.set_num_threads(1)
    two = RUNTIME.model_copy(update={"loader_workers": 2})
    run(cache, tmp_path / "zero", settings())
    run(cache, tmp_path / "two", settings(), two)
    assert same_weights(tmp_path / "zero/model.pt", tmp_path / "two/model.pt")
    with monkeypatch.context() as patch:
        # Arrives with the fifth batch (epoch 1, step 1; 3 steps per epoch), which is done.
        stop_after_batches(patch, 5)
        with pytest.raises(TrainingInterrupted, match="at epoch 1, step 2"):
            run(cache, tmp_path / "resumed", settings(), two)
    state = load_checkpoint(state_file(tmp_path / "resumed" / "model.pt"))
    assert (state["epochs_done"], state["steps"]) == (1, 2)
    result = run(cache, tmp_path / "resumed", settings(), two)
    assert result.resumed_from == 1 and result.steps == 4 * 3 - 5
    assert same_weights(tmp_path / "zero/model.pt", tmp_path / "resumed/model.pt")


def test_state_saved_under_another_recipe_is_not_resumed(cache, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        stop_at_epoch(patch, 1, signal.SIGUSR1)
        with pytest.raises(TrainingInterrupted):
            run(cache, out, settings())
    result = run(cache, out, settings(lr=3e-4))
    assert result.resumed_from == 0


def test_non_finite_loss_stops_and_keeps_the_last_good_state(cache, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    real_build_loss = train_module.build_loss
    calls = {"n": 0}

    def loss_that_explodes(spec):
        loss = real_build_loss(spec)

        def compute(output, target):
            calls["n"] += 1
            value = loss(output, target)
            return value * float("nan") if calls["n"] > 7 else value  # epoch 2, second step

        return compute

    monkeypatch.setattr(train_module, "build_loss", loss_that_explodes)
    out = tmp_path / "nan"
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 2") as error:
        run(cache, out, settings())
    assert "(first at step 1 of the epoch)" in str(error.value)
    assert "last good state" in str(error.value)
    assert load_checkpoint(state_file(out / "model.pt"))["epochs_done"] == 2
    assert not (out / "model.pt").exists()


def test_a_stop_signal_after_a_non_finite_loss_saves_nothing(cache, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    real_build_loss = train_module.build_loss

    def infinite_loss(spec):
        loss = real_build_loss(spec)
        return lambda output, target: loss(output, target) * float("inf")

    monkeypatch.setattr(train_module, "build_loss", infinite_loss)
    stop_after_batches(monkeypatch, 2)
    with pytest.raises(TrainingDiverged, match="loss became inf at epoch 0 .first at step 0"):
        run(cache, tmp_path / "inf", settings())
    assert not state_file(tmp_path / "inf" / "model.pt").exists()


def force_device(monkeypatch, forced):
    monkeypatch.setattr(Device, "choose", classmethod(lambda cls, runtime, precision: forced))


def test_channels_last_and_bf16_on_the_cpu_land_at_the_float32_loss(cache, tmp_path, monkeypatch):
    """The GPU options exercised on the CPU, where torch has them: the same short training in
    float32, in float32 with channels_last, and in bf16 autocast with channels_last."""
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    losses = {}
    for name, forced in {
        "float32": Device(cpu),
        "channels_last": Device(cpu, "float32", channels_last=True),
        "bf16": Device(cpu, "bf16", channels_last=True),
    }.items():
        force_device(monkeypatch, forced)
        result = run(cache, tmp_path / name, settings())
        assert result.val_psnr is not None
        losses[name] = result.final_loss
    # channels_last changes only the order of float32 sums: equal to 1e-5 relative (5e-8
    # measured).
    assert losses["channels_last"] == pytest.approx(losses["float32"], rel=1e-5)
    # bf16 keeps 8 bits of mantissa: the same loss within 1 % (3e-4 measured).
    assert losses["bf16"] == pytest.approx(losses["float32"], rel=0.01)
    assert math.isfinite(losses["bf16"])


def test_cuda_requested_without_a_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(DeviceUnavailable, match="no CUDA device is visible"):
        Device.choose(runtime(device="cuda"), "bf16")
    chosen = Device.choose(runtime(device="auto"), "bf16")
    assert chosen == Device(torch.device("cpu"), "float32", channels_last=False)


def test_runtime_settings_do_not_stop_a_resume(cache, tmp_path, monkeypatch):
    """Threads, workers, cadence and progress change how a run goes, not its weights."""
    torch.set_num_threads(1)
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        stop_at_epoch(patch, 1, signal.SIGUSR1)
        with pytest.raises(TrainingInterrupted):
            run(cache, out, settings())
    other = RUNTIME.model_copy(
        update={"threads": 2, "val_every": 0, "checkpoint_every": 3, "cuda_graphs": False}
    )
    assert run(cache, out, settings(), other).resumed_from == 1


def test_model_2_is_saved_with_the_arch_args_it_was_trained_with(cache, tmp_path):
    """The kernel of model 2's added convolutions travels in the checkpoint, so evaluation
    rebuilds the network that was trained; SID's initialisation starts it."""
    torch.set_num_threads(1)
    out = tmp_path / "deeper"
    trained = settings("sid_net_deeper", epochs=1, extra_convs_kernel=3, init="sid")
    run(cache, out, trained)
    checkpoint = load_checkpoint(out / "model.pt")
    assert checkpoint["arch_args"] == dict(trained.arch_args)  # train.width's scaling too
    assert checkpoint["arch_args"]["extra_bottleneck_convs"] == 2
    assert checkpoint["arch_args"]["extra_bottleneck_kernel"] == 3
    assert recipe_of(checkpoint, out / "model.pt").init == "sid"
    model, _ = load_model(out / "model.pt")
    added = [m for m in model.bottleneck_extra.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.kernel_size for m in added] == [(3, 3), (3, 3)]

"""Training: resumable after SIGTERM with identical weights, checkpoints, divergence."""

import json
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gianet.checkpoint import load_checkpoint
from gianet.data.dataset import TrainPatches
from gianet.paths import state_file
from gianet.runtime import DeviceUnavailable, Runtime
from gianet.train import TrainingDiverged, TrainingInterrupted, train_variant
from gianet.variants import get_variant
from tests.conftest import write_packed_cache


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    rng = np.random.default_rng(1)
    scenes = {"train": [], "val": []}
    for split, first_id in (("train", 1), ("val", 20001)):
        for scene in range(first_id, first_id + (3 if split == "train" else 1)):
            clean = rng.integers(0, 8000, size=(4, 24, 32)).astype(np.uint16)
            gt = np.repeat(np.repeat(clean[:3] * 4, 2, axis=1), 2, axis=2)
            for shot in range(2):
                noisy = (clean // 100 + rng.integers(0, 20, clean.shape)).astype(np.uint16)
                scenes[split].append(
                    (noisy, gt, f"{scene:05d}_{shot:02d}_0.1s.dng", f"{scene:05d}_00_10s.tif")
                )
    write_packed_cache(folder, scenes)
    return folder


def settings(**changes):
    train = yaml.safe_load(Path("params.yaml").read_text())["train"]
    train.update(epochs=4, lr_decay_epoch=2, patch=16)
    return train | changes


RUNTIME = Runtime(threads=1, val_every=2, checkpoint_every=1, progress=False)


def weights(path):
    return load_checkpoint(path)["state_dict"]


def run(cache, out, train, runtime=RUNTIME):
    return train_variant(
        get_variant("sid_net"),
        cache,
        out / "model.pt",
        out / "log",
        train,
        camera="Sony",
        runtime=runtime,
    )


def test_interrupted_and_resumed_run_ends_with_identical_weights(cache, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    run(cache, tmp_path / "straight", settings())
    original_set_epoch = TrainPatches.set_epoch

    def interrupt_at_epoch_two(self, epoch):
        if epoch == 2 and not os.environ.get("GIANET_TEST_SIGNALLED"):
            os.environ["GIANET_TEST_SIGNALLED"] = "1"
            os.kill(os.getpid(), signal.SIGTERM)  # as SLURM does before a time limit
        original_set_epoch(self, epoch)

    monkeypatch.setattr(TrainPatches, "set_epoch", interrupt_at_epoch_two)
    monkeypatch.delenv("GIANET_TEST_SIGNALLED", raising=False)
    with pytest.raises(TrainingInterrupted, match="Rerun the same command to resume"):
        run(cache, tmp_path / "resumed", settings())
    state = load_checkpoint(state_file(tmp_path / "resumed" / "model.pt"))
    assert state["epochs_done"] == 2
    result = run(cache, tmp_path / "resumed", settings())
    assert result.resumed_from == 2
    straight, resumed = (
        weights(tmp_path / "straight/model.pt"),
        weights(tmp_path / "resumed/model.pt"),
    )
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not state_file(tmp_path / "resumed" / "model.pt").exists()  # done: state removed
    curves = json.loads((tmp_path / "resumed" / "log" / "metrics.json").read_text())
    assert curves["step"] == 3 and "psnr" in curves["val"]


def test_state_saved_under_other_settings_is_not_resumed(cache, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    monkeypatch.setattr(TrainPatches, "set_epoch", _stop_at(1, TrainPatches.set_epoch))
    with pytest.raises(TrainingInterrupted):
        run(cache, out, settings())
    monkeypatch.undo()
    result = run(cache, out, settings(lr=3e-4))
    assert result.resumed_from == 0


def _stop_at(stop_epoch, original):
    def set_epoch(self, epoch):
        if epoch == stop_epoch:
            os.kill(os.getpid(), signal.SIGUSR1)
        original(self, epoch)

    return set_epoch


def test_non_finite_loss_stops_and_keeps_the_last_good_state(cache, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    from gianet import train as train_module

    real_build_loss = train_module.build_loss
    calls = {"n": 0}

    def loss_that_explodes(name, gamma):
        loss = real_build_loss(name, gamma)

        def compute(output, target):
            calls["n"] += 1
            value = loss(output, target)
            return value * float("nan") if calls["n"] > 7 else value  # epoch 2, third step

        return compute

    monkeypatch.setattr(train_module, "build_loss", loss_that_explodes)
    out = tmp_path / "nan"
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 2") as error:
        run(cache, out, settings())
    assert "last good state" in str(error.value)
    assert load_checkpoint(state_file(out / "model.pt"))["epochs_done"] == 2
    assert not (out / "model.pt").exists()


def test_mixed_precision_and_channels_last_path_runs(cache, tmp_path, monkeypatch):
    """The GPU options (bf16 autocast, channels_last) exercised on the CPU, where torch has them."""
    from gianet import train as train_module

    torch.set_num_threads(1)
    forced = train_module.Device(torch.device("cpu"), bf16=True, channels_last=True)
    monkeypatch.setattr(
        train_module.Device, "choose", classmethod(lambda cls, runtime, bf16: forced)
    )
    result = run(cache, tmp_path / "bf16", settings(epochs=2))
    assert math.isfinite(result.final_loss) and result.val_psnr is not None


def test_cuda_requested_without_a_gpu_is_a_clear_error():
    from gianet.train import Device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(DeviceUnavailable, match="no CUDA device is visible"):
        Device.choose(Runtime(device="cuda"), bf16=True)
    chosen = Device.choose(Runtime(device="auto"), bf16=True)
    assert chosen.device.type == "cpu" and not chosen.bf16 and not chosen.channels_last


def test_runtime_settings_do_not_stop_a_resume(cache, tmp_path, monkeypatch):
    """Threads, workers, cadence and progress change how a run goes, not its weights."""
    torch.set_num_threads(1)
    out = tmp_path / "run"
    monkeypatch.setattr(TrainPatches, "set_epoch", _stop_at(1, TrainPatches.set_epoch))
    with pytest.raises(TrainingInterrupted):
        run(cache, out, settings())
    monkeypatch.undo()
    other = Runtime(threads=2, val_every=0, checkpoint_every=3, progress=False)
    assert run(cache, out, settings(), other).resumed_from == 1

"""The GPU path (skipped without CUDA): device-side data conversion, CUDA-graph and compiled
training steps against eager ones, a real training run with loader processes, graphs and the
joint loss that resumes after SIGTERM, and enhance on the GPU against the CPU.

Run on a CUDA machine: ``pytest -q tests/test_gpu.py`` (about a minute, most of it
``torch.compile``)."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from gianet.data.crops import FixedCrops
from gianet.data.dataset import PackedPairs, TrainPatches
from gianet.data.lists import Selection
from gianet.data.tensors import to_network
from gianet.jobs.device import Device, tf32_enabled
from gianet.models import build_model
from gianet.models.checkpoint import load_checkpoint
from gianet.paths import state_file
from gianet.training import train as train_module
from gianet.training.losses import JointLoss
from gianet.training.step import CapturedSteps, TrainStep, make_optimizer
from gianet.training.train import TrainingInterrupted, train_variant
from tests.conftest import noisy_clean_scenes, recipe, runtime, write_packed_cache

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Three training scenes and one validation scene of 4 x 128 x 144 packed pixels."""
    folder = tmp_path_factory.mktemp("gpu_cache")
    scenes = noisy_clean_scenes(np.random.default_rng(3), 128, 144, shots=1, gt_suffix=".dng")
    write_packed_cache(folder, scenes)
    return folder


def test_the_device_side_conversion_equals_the_cpus_bit_for_bit(cache):
    patches = TrainPatches(
        PackedPairs(cache, "train", 1.0),
        FixedCrops(kind="fixed", patch=64),
        seed=0,
        shots="all",
        flips="sid",
    )
    for epoch in range(3):
        keys = [(epoch, index, 0) for index in range(3)]
        batch = default_collate([patches[key] for key in keys])
        on_cpu = to_network(batch, torch.device("cpu"), 1.0)
        on_gpu = to_network(batch, CUDA, 1.0, torch.channels_last)
        for cpu_tensor, gpu_tensor in zip(on_cpu, on_gpu, strict=True):
            assert torch.equal(cpu_tensor, gpu_tensor.cpu())


def gia_step(device: Device, compile: bool = False) -> TrainStep:
    torch.manual_seed(0)
    model = device.prepare(build_model("unet", in_channels=4, upscale=2, base_channels=8, gia=True))
    return TrainStep(model, JointLoss(), make_optimizer(model, 1e-4, device), device, compile)


def gpu_batches(sides: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    out = []
    for side in sides:
        inputs = torch.rand(1, 4, side, side, generator=generator)
        out.append(
            (inputs.to(CUDA), torch.rand(1, 3, 2 * side, 2 * side, generator=generator).to(CUDA))
        )
    return out


@pytest.mark.parametrize("precision", ["float32", "bf16"])
def test_captured_steps_give_the_eager_steps_losses_one_graph_per_shape(precision):
    device = Device(CUDA, precision, channels_last=True)
    sides = [96, 112, 96, 112, 96, 112, 96, 96, 112, 112]  # two crop sizes, as multi-size crops
    eager, captured = gia_step(device), gia_step(device)
    graphs = CapturedSteps(captured)
    with device.math():
        for inputs, target in gpu_batches(sides):
            eager(inputs, target)
            graphs(inputs, target)
    assert len(graphs.graphs) == 2
    ours, theirs = captured.totals(), eager.totals()
    assert ours.steps == theirs.steps == len(sides) and ours.first_nonfinite == -1
    assert ours.loss_sum == pytest.approx(theirs.loss_sum, rel=1e-3)


def test_precisions_and_memory_formats_land_at_the_float32_loss():
    """The same 40 steps in IEEE float32, float32 + channels_last, tf32 and bf16 (the
    tolerances are the issue's equivalence claim on the GPU; gpu_check.py prints the same
    comparison on real crops)."""
    sides = [96] * 40
    losses = {}
    for precision, channels_last in (
        ("float32", False),
        ("float32", True),
        ("tf32", True),
        ("bf16", True),
    ):
        device = Device(CUDA, precision, channels_last)
        step = gia_step(device)
        with device.math():
            for inputs, target in gpu_batches(sides):
                step(device.batch(inputs), target)
        losses[(precision, channels_last)] = step.totals().loss_sum
    reference = losses[("float32", False)]
    assert losses[("float32", True)] == pytest.approx(reference, rel=1e-4)
    assert losses[("tf32", True)] == pytest.approx(reference, rel=1e-2)
    assert losses[("bf16", True)] == pytest.approx(reference, rel=2e-2)


def test_a_compiled_step_gives_the_eager_steps_losses():
    device = Device(CUDA, "float32")
    eager, compiled = gia_step(device), gia_step(device, compile=True)
    with device.math():
        for inputs, target in gpu_batches([96, 96, 96]):
            eager(inputs, target)
            compiled(inputs, target)
    assert compiled.totals().loss_sum == pytest.approx(eager.totals().loss_sum, rel=1e-3)


def test_gpu_training_with_graphs_and_loader_processes_resumes_after_sigterm(
    cache, tmp_path, monkeypatch
):
    """GIA-Net with the joint loss and multi-size crops (outputs of 192-240 px), two loader
    processes and CUDA graphs: stopped by SIGTERM mid-run, resumed, finished."""
    trained = recipe(
        "gia_net",
        epochs=4,
        lr=1e-4,
        lr_decay_epoch=2,
        patch=96,
        multi_size_a=12,
        multi_size_b=[8, 10],
        precision="tf32",
    )
    cuda = runtime(device="auto", loader_workers=2, val_every=2, checkpoint_every=1, progress=False)
    all_val = Selection(exposures="all", exclude_scenes=[])
    runners = []
    build_step = train_module.build_step

    def keep_runner(*args, **kwargs):
        runners.append(build_step(*args, **kwargs))
        return runners[-1]

    monkeypatch.setattr(train_module, "build_step", keep_runner)
    original = train_module.device_batches

    def stop_after_seven(*args, **kwargs):
        for number, batch in enumerate(original(*args, **kwargs), start=1):
            if number == 7 and not os.environ.get("GIANET_GPU_TEST_STOPPED"):
                os.environ["GIANET_GPU_TEST_STOPPED"] = "1"
                os.kill(os.getpid(), signal.SIGTERM)
            yield batch

    monkeypatch.setattr(train_module, "device_batches", stop_after_seven)
    monkeypatch.delenv("GIANET_GPU_TEST_STOPPED", raising=False)

    def run():
        return train_variant(
            trained,
            PackedPairs(cache, "train", 1.0),
            PackedPairs(cache, "val", 1.0, selection=all_val),
            tmp_path / "model.pt",
            tmp_path / "log",
            camera="Sony",
            runtime=cuda,
            curves=lambda log_dir, resume: _Curves(),
        )

    with pytest.raises(TrainingInterrupted, match="at epoch 2, step 1"):
        run()
    assert load_checkpoint(state_file(tmp_path / "model.pt"))["epochs_done"] == 2
    result = run()
    assert result.resumed_from == 2 and result.steps == 5
    assert math.isfinite(result.final_loss) and result.val_psnr is not None
    assert all(isinstance(runner, CapturedSteps) for _, runner in runners)
    assert sum(len(runner.graphs) for _, runner in runners) >= 1


class _Curves:
    """A curve logger that keeps nothing (dvclive is not needed on a GPU node)."""

    def log_metric(self, name, value):
        pass

    def next_step(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def test_enhance_on_the_gpu_is_the_cpu_result_within_a_few_16_bit_steps():
    """TF32 off: the GPU's float32 output differs from the CPU's by float rounding only
    (with TF32 it would differ by tens of steps of 1/65535); the switches are restored."""
    from gianet.inference.enhance import run_network

    torch.manual_seed(0)
    model = build_model("unet", in_channels=4, upscale=2, base_channels=8, gia=True).eval()
    inputs = torch.rand(1, 4, 160, 224)
    before = tf32_enabled()
    on_cpu = run_network(model, inputs, None, "cpu")
    on_gpu = run_network(model, inputs, None, "cuda")
    assert ((on_cpu - on_gpu).abs() * 65535).max().item() <= 4
    assert tf32_enabled() == before

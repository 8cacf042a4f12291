"""Checks 1-3: GIA-Net's training step on one random batch of a fixed size.

1. steps/s with the joint loss, eager, with GIA's former replicate pad and with the broadcast
   (``gianet.models.gia.spread_to``), in bf16 and tf32 (float32 on the CPU), with peak memory;
2. the joint loss alone, forward + backward: piq's MS-SSIM as the former loop ran it (TF32
   convolutions) against ours as the step runs it now (IEEE float32), their difference, and
   how far TF32 would move ours;
3. steps/s with the joint loss for every precision x memory format x (eager, CUDA graphs),
   with peak memory.

The step helpers (:func:`gia_net_step`, :func:`step_rate`) are shared with the other checks.
"""

from __future__ import annotations

import contextlib
import time

import torch
import torch.nn.functional as F

import gianet.models.gia as gia_module
from gianet.jobs.device import PRECISIONS, Device, tf32
from gianet.models import build_model
from gianet.training.losses import PIQ_SCALE_EXPONENTS, JointLoss
from gianet.training.step import EAGER_RUNS, CapturedSteps, TrainStep, make_optimizer

from .common import peak_gib, say, sync, timed


def joint_loss() -> JointLoss:
    """The joint loss these checks time: 0.84 L1 + 0.16 (1 - MS-SSIM) with piq's per-scale
    exponents, the formula :func:`check_loss` compares with piq's."""
    return JointLoss(gamma=0.84, use_ms_ssim=True, exponents=PIQ_SCALE_EXPONENTS, gamma_term="l1")


def gia_net_step(device: Device, compile: bool = False) -> TrainStep:
    """A fresh GIA-Net (seed 0) with the joint loss and Adam at 1e-4, as one training step."""
    torch.manual_seed(0)
    model = device.prepare(build_model("unet", in_channels=4, upscale=2, gia=True))
    return TrainStep(model, joint_loss(), make_optimizer(model, 1e-4, device), device, compile)


def step_rate(device: Device, patch: int, steps: int, graphs: bool, compile: bool = False):
    """Steps/s of GIA-Net + joint loss on one random batch, and the peak memory."""
    step = gia_net_step(device, compile)
    run = CapturedSteps(step) if graphs and device.cuda else step
    inputs = device.batch(torch.rand(1, 4, patch, patch))
    target = torch.rand(1, 3, 2 * patch, 2 * patch, device=device.device)
    with device.math():
        for _ in range(EAGER_RUNS + 3):  # warm-up (and capture)
            run(inputs, target)
        sync(device.device)
        start = time.perf_counter()
        for _ in range(steps):
            run(inputs, target)
        sync(device.device)
    return steps / (time.perf_counter() - start), peak_gib(device.device)


def check_pad_fix(cuda: bool, patch: int, steps: int) -> None:
    """1: eager steps/s with GIA's former replicate pad and with the broadcast."""
    device = torch.device("cuda" if cuda else "cpu")
    for precision in ("bf16", "tf32") if cuda else ("float32",):
        chosen = Device(device, precision, channels_last=cuda)
        rates = {}
        for name, spread in (
            ("replicate pad (before)", gia_module.replicate_pad_spread),
            ("broadcast (after)", None),
        ):
            with contextlib.ExitStack() as stack:
                if spread is not None:
                    original = gia_module.spread_to
                    gia_module.spread_to = spread
                    stack.callback(setattr, gia_module, "spread_to", original)
                rates[name], peak = step_rate(chosen, patch, steps, graphs=False)
            say(
                f"   {chosen.precision:7s} eager, GIA {name:22s}: {rates[name]:7.1f} steps/s  "
                f"peak {peak}"
            )
        ratio = rates["broadcast (after)"] / rates["replicate pad (before)"]
        say(f"   {chosen.precision:7s} after / before: {ratio:.2f} x")


def check_loss(cuda: bool, side: int, repeats: int) -> None:
    """2: the joint loss alone at ``side`` px, forward + backward, piq's against ours."""
    import piq

    device = torch.device("cuda" if cuda else "cpu")
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, side, side, generator=generator).to(device)
    pred = (target + 0.1 * torch.randn(target.shape, generator=generator).to(device)).clamp(0, 1)

    def former() -> torch.Tensor:
        x = pred.clone().requires_grad_()
        loss = 0.84 * F.l1_loss(x, target) + 0.16 * (
            1 - piq.multi_scale_ssim(x, target, data_range=1.0)
        )
        loss.backward()
        return loss

    def ours() -> torch.Tensor:
        x = pred.clone().requires_grad_()
        loss = joint_loss()(x, target)
        loss.backward()
        return loss

    with tf32(True):  # how the former loop ran piq: cuDNN's default, TF32 convolutions
        before = timed(device, former, repeats)
    with tf32(False):  # how the training step runs the loss now
        after = timed(device, ours, repeats)
        ieee = {name: fn().item() for name, fn in (("piq", former), ("ours", ours))}
    with tf32(True):
        ours_tf32 = ours().item()
    say(f"   joint loss {side} px fwd+bwd, piq (TF32 convolutions): {1 / before:7.1f} per s")
    say(f"   joint loss {side} px fwd+bwd, ours (IEEE float32)    : {1 / after:7.1f} per s")
    say(
        f"   speed-up {before / after:.2f} x; IEEE float32 |ours - piq| = "
        f"{abs(ieee['ours'] - ieee['piq']):.2e}; ours with TF32 convolutions differs from IEEE "
        f"by {abs(ours_tf32 - ieee['ours']):.2e} (why the loss runs in IEEE float32)"
    )


def check_step_matrix(cuda: bool, patch: int, steps: int) -> None:
    """3: steps/s and peak memory per precision x memory format x (eager, CUDA graphs)."""
    device = torch.device("cuda" if cuda else "cpu")
    for precision in PRECISIONS if cuda else ("float32",):
        for channels_last in (False, True) if cuda else (False,):
            for graphs in (False, True) if cuda else (False,):
                chosen = Device(device, precision, channels_last)
                rate, peak = step_rate(chosen, patch, steps, graphs)
                say(
                    f"   {precision:7s} channels_last={channels_last!s:5} graphs={graphs!s:5}: "
                    f"{rate:7.1f} steps/s  peak {peak}"
                )

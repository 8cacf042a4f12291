"""The training step: device-side accounting, the same arithmetic as a plain step, optimizer
states that load across implementations, and the CPU path without capture."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gianet.jobs.device import Device
from gianet.training.step import (
    CapturedSteps,
    TrainStep,
    build_step,
    load_optimizer_state,
    make_optimizer,
)

CPU = Device(torch.device("cpu"))


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 3, 1))


def batches(count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        (
            torch.rand(1, 4, 12, 12, generator=generator),
            torch.rand(1, 3, 12, 12, generator=generator),
        )
        for _ in range(count)
    ]


def test_the_step_is_a_plain_adam_step_and_accounts_for_its_losses_on_the_device() -> None:
    model, reference = tiny_model(), tiny_model()
    step = TrainStep(model, F.l1_loss, make_optimizer(model, 1e-3, CPU), CPU)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)
    losses = []
    for inputs, target in batches(5):
        step(inputs, target)
        optimizer.zero_grad(set_to_none=True)
        loss = F.l1_loss(reference(inputs), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    totals = step.totals()
    assert totals.loss_sum == pytest.approx(math.fsum(losses), rel=1e-12)
    assert (totals.steps, totals.first_nonfinite) == (5, -1)


def test_the_first_non_finite_loss_and_its_step_are_kept_until_the_epoch_restarts() -> None:
    calls = []

    def loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        factor = {3: float("inf"), 4: float("nan")}.get(len(calls), 1.0)
        return F.l1_loss(output, target) * factor

    model = tiny_model()
    step = TrainStep(model, loss_fn, make_optimizer(model, 1e-3, CPU), CPU)
    step.start_epoch(loss_sum=2.5, steps=1)  # resumed one step into the epoch
    for inputs, target in batches(4):
        step(inputs, target)
    totals = step.totals()
    assert (totals.steps, totals.first_nonfinite, totals.nonfinite_loss) == (5, 3, math.inf)
    step.start_epoch()
    assert step.totals() == (0.0, 0, -1, 0.0)


def test_optimizer_states_load_across_fused_and_plain_adam() -> None:
    fused_model, plain_model = tiny_model(), tiny_model()
    fused = torch.optim.Adam(fused_model.parameters(), lr=1e-3, fused=True)
    TrainStep(fused_model, F.l1_loss, fused, CPU)(*batches(1)[0])
    plain = make_optimizer(plain_model, 1e-3, CPU)
    load_optimizer_state(plain, fused.state_dict())
    assert not plain.param_groups[0]["fused"]
    steps = [state["step"] for state in plain.state.values()]
    assert all(s.device.type == "cpu" and s.dtype == torch.float32 and s == 1 for s in steps)
    plain.step()  # the plain implementation accepts the loaded state
    load_optimizer_state(fused, plain.state_dict())
    assert fused.param_groups[0]["fused"]
    fused.step()


def test_without_cuda_the_step_runs_eagerly_whatever_the_switches() -> None:
    model = tiny_model()
    step, run = build_step(
        model, F.l1_loss, make_optimizer(model, 1e-3, CPU), CPU, cuda_graphs=True, compile=True
    )
    assert run is step and step.network == step._network  # no capture, no compile
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        CapturedSteps(step)

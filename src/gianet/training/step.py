"""One training step, without host synchronisation, run eagerly or replayed from CUDA graphs.

:class:`TrainStep` is the step: zero the gradients (kept allocated), forward (autocast as the
precision says), loss, backward, then Adam's update; the loss sum, the step count and the
first non-finite step accumulate on the device, so nothing waits for the GPU until the epoch
ends (:meth:`TrainStep.totals`). On the CPU it is all there is.

On CUDA, at batch size 1, a step is bound by launching a few hundred small kernels, not by
arithmetic. :class:`CapturedSteps` records the gradient half of the same step (everything but
the optimizer's update, which is one fused kernel) as a CUDA graph per batch shape (one per
crop size for multi-size crops) and replays it: one launch instead of hundreds. The graphs
own static input buffers (each batch is copied in), write their results into tensors made
before capture (the gradients, the loss sum), draw no random numbers, and share one memory
pool, which is safe because nothing they allocate outlives a replay. The first
:data:`EAGER_RUNS` steps of each shape run eagerly, on a side stream as capture requires, and
are real steps of the run. ``runtime.compile`` additionally compiles forward and loss with
``torch.compile`` (fusing the loss's element-wise work); both are runtime switches, for
``benchmarks/gpu_check.py`` measures which helps. Whatever the precision, the loss runs in
IEEE float32 (TF32 off), forward and backward.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from gianet.errors import GianetError
from gianet.jobs.device import Device, tf32

#: Eager steps of a batch shape before its capture (cuDNN picks its algorithms, Adam and
#: autograd initialise their state).
EAGER_RUNS = 2

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CaptureFailed(GianetError, RuntimeError):
    """A training step could not be captured as a CUDA graph."""


def make_optimizer(model: nn.Module, lr: float, device: Device) -> torch.optim.Adam:
    """Adam over ``model``'s parameters; one fused kernel per step on CUDA."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True if device.cuda else None)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state whatever implementation (fused or not, CPU or CUDA)
    saved it: the moments and step counts are loaded, ``optimizer``'s own implementation
    flags are kept, and each step count moves where that implementation keeps it."""
    flags = {
        key: optimizer.param_groups[0][key]
        for key in ("fused", "foreach", "capturable")
        if key in optimizer.param_groups[0]
    }
    optimizer.load_state_dict(state)
    on_device = bool(flags.get("fused") or flags.get("capturable"))
    for group in optimizer.param_groups:
        group.update(flags)
        for param in group["params"]:
            values = optimizer.state.get(param, {})
            if torch.is_tensor(values.get("step")):
                where = param.device if on_device else torch.device("cpu")
                values["step"] = values["step"].to(where, torch.float32)


class EpochTotals(NamedTuple):
    """An epoch's accounting: loss sum and steps so far, and the first non-finite loss and
    its step (-1 when every loss was finite)."""

    loss_sum: float
    steps: int
    first_nonfinite: int
    nonfinite_loss: float


class TrainStep:
    """One optimisation step on ``(inputs, target)`` with nothing read back by the host.

    Args:
        model: the network, on ``device`` in its memory format, in training mode.
        loss_fn: ``loss_fn(output, target)`` -> scalar; no host synchronisation inside.
        optimizer: over ``model``'s parameters.
        device: where and in which precision the step runs.
        compile: wrap the network's forward and the loss in ``torch.compile``.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Loss,
        optimizer: torch.optim.Optimizer,
        device: Device,
        compile: bool = False,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.device = device
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device.device)
        self.steps = torch.zeros((), dtype=torch.int64, device=device.device)
        self.first_nonfinite = torch.full((), -1, dtype=torch.int64, device=device.device)
        self.nonfinite_loss = torch.zeros((), dtype=torch.float32, device=device.device)
        self.network: Callable[[torch.Tensor], torch.Tensor] = self._network
        self.loss = loss_fn
        if compile:
            self.network, self.loss = torch.compile(self._network), torch.compile(loss_fn)

    def _network(self, inputs: torch.Tensor) -> torch.Tensor:
        with self.device.autocast():
            return self.model(inputs).float()

    def _loss_math(self) -> contextlib.AbstractContextManager:
        """The loss in IEEE float32 on CUDA, whatever the precision: MS-SSIM's variances are
        differences of filtered squares, which TF32's 10-bit mantissa would swamp."""
        return tf32(False) if self.device.cuda else contextlib.nullcontext()

    def gradients(self, inputs: torch.Tensor, target: torch.Tensor) -> None:
        """Zero the gradients in place, compute new ones, and account for the loss.

        The backward pass runs in two parts so that the loss (forward and backward) is in
        IEEE float32 while the network computes in the step's precision: the loss's gradient
        with respect to the network's output first, then the network's backward from it.
        """
        self.optimizer.zero_grad(set_to_none=False)
        output = self.network(inputs)
        with self._loss_math():
            prediction = output.detach().requires_grad_()
            loss = self.loss(prediction, target)
            loss.backward()
        output.backward(prediction.grad)
        value = loss.detach()
        unseen = (~torch.isfinite(value)) & (self.first_nonfinite < 0)
        self.first_nonfinite.copy_(torch.where(unseen, self.steps, self.first_nonfinite))
        self.nonfinite_loss.copy_(torch.where(unseen, value.float(), self.nonfinite_loss))
        self.steps.add_(1)
        self.loss_sum.add_(value)

    def update(self) -> None:
        """Apply the optimizer to the gradients of the last :meth:`gradients`."""
        self.optimizer.step()

    def __call__(self, inputs: torch.Tensor, target: torch.Tensor) -> None:
        self.gradients(inputs, target)
        self.update()

    def start_epoch(self, loss_sum: float = 0.0, steps: int = 0) -> None:
        """Reset the accumulators, in place (captured graphs hold their addresses)."""
        self.loss_sum.fill_(loss_sum)
        self.steps.fill_(steps)
        self.first_nonfinite.fill_(-1)
        self.nonfinite_loss.zero_()

    def totals(self) -> EpochTotals:
        """The epoch so far, read back: the one host synchronisation of an epoch."""
        counters = [self.steps, self.first_nonfinite, self.nonfinite_loss]
        values = torch.stack([self.loss_sum, *(c.double() for c in counters)]).tolist()
        return EpochTotals(values[0], int(values[1]), int(values[2]), values[3])


class CapturedSteps:
    """``step``'s gradient half replayed from one CUDA graph per batch shape (see the module
    docstring); ``step.update`` runs after each replay. Call it like the step."""

    def __init__(self, step: TrainStep) -> None:
        if not step.device.cuda:
            raise ValueError("CUDA graphs need a CUDA device")
        self.step = step
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.eager_runs: Counter[tuple] = Counter()
        self.pool: tuple | None = None
        self.side_stream = torch.cuda.Stream(step.device.device)

    @staticmethod
    def shape_key(inputs: torch.Tensor, target: torch.Tensor) -> tuple:
        return (inputs.shape, inputs.stride(), target.shape, target.stride(), inputs.dtype)

    def __call__(self, inputs: torch.Tensor, target: torch.Tensor) -> None:
        key = self.shape_key(inputs, target)
        captured = self.graphs.get(key)
        if captured is None and self.eager_runs[key] < EAGER_RUNS:
            self.eager_runs[key] += 1
            self._eager_on_side_stream(inputs, target)
        else:
            graph, static_inputs, static_target = captured or self._capture(key, inputs, target)
            static_inputs.copy_(inputs)
            static_target.copy_(target)
            graph.replay()
        self.step.update()

    def _eager_on_side_stream(self, inputs: torch.Tensor, target: torch.Tensor) -> None:
        current = torch.cuda.current_stream()
        self.side_stream.wait_stream(current)
        with torch.cuda.stream(self.side_stream):
            self.step.gradients(inputs, target)
        current.wait_stream(self.side_stream)

    def _capture(
        self, key: tuple, inputs: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_inputs = torch.empty_like(inputs)
        static_target = torch.empty_like(target)
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: the loader's pin-memory thread may allocate while this captures.
            with torch.cuda.graph(graph, pool=self.pool, capture_error_mode="thread_local"):
                self.step.gradients(static_inputs, static_target)
        except RuntimeError as exc:
            raise CaptureFailed(
                f"capturing the training step for inputs of shape {tuple(inputs.shape)} as a "
                f"CUDA graph failed ({exc}); set runtime.cuda_graphs to false and rerun "
                "(the run resumes from its last saved state)"
            ) from exc
        if self.pool is None:
            self.pool = graph.pool()
        self.graphs[key] = (graph, static_inputs, static_target)
        return self.graphs[key]


def build_step(
    model: nn.Module,
    loss_fn: Loss,
    optimizer: torch.optim.Optimizer,
    device: Device,
    *,
    cuda_graphs: bool,
    compile: bool,
) -> tuple[TrainStep, Callable[[torch.Tensor, torch.Tensor], None]]:
    """The step and how to run it: replayed from CUDA graphs when ``cuda_graphs`` and on
    CUDA, else eagerly; ``compile`` (CUDA only) compiles forward and loss."""
    step = TrainStep(model, loss_fn, optimizer, device, compile=compile and device.cuda)
    if cuda_graphs and device.cuda:
        return step, CapturedSteps(step)
    return step, step

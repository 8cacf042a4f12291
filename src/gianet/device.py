"""Where and how networks run: the device, the float precision and the memory format.

The precision is a result setting (params.yaml ``train.precision``); on CUDA it means:

- ``float32``: IEEE float32 throughout, TF32 off for convolutions and matrix products;
- ``tf32``: float32 tensors, with the network's convolutions and matrix products on TF32
  tensor cores (inputs rounded to 10 mantissa bits, float32 accumulation);
- ``bf16``: bf16 autocast for the network, TF32 for the float32 operations autocast leaves.

The training loss runs in IEEE float32 in every precision (:mod:`gianet.train_step`).

On the CPU every precision runs as IEEE float32 (TF32 is a CUDA feature). The TF32 switches
are always set explicitly for the duration of a job (:meth:`Device.math`), never left to
torch's defaults, which differ between convolutions (TF32) and matrix products (IEEE).

The memory format (``runtime.channels_last``) changes speed, not values beyond float
rounding, so it is a runtime setting; it applies on CUDA only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, get_args

import torch

from gianet.runtime import Runtime

Precision = Literal["float32", "tf32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def _fp32_switches() -> list[tuple[object, str]]:
    """The objects holding torch's float32 precision switches (torch >= 2.9), or none."""
    cudnn = torch.backends.cudnn
    if not hasattr(getattr(cudnn, "conv", None), "fp32_precision"):
        return []
    return [(cudnn.conv, "fp32_precision"), (cudnn.rnn, "fp32_precision")] + [
        (torch.backends.cuda.matmul, "fp32_precision")
    ]


def tf32_enabled() -> bool:
    """Whether cuDNN convolutions may use TF32 now."""
    switches = _fp32_switches()
    if switches:
        holder, name = switches[0]
        return getattr(holder, name) == "tf32"
    return bool(torch.backends.cudnn.allow_tf32)


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Allow (or forbid) TF32 for cuDNN convolutions and CUDA matrix products inside the
    block, and restore the previous switches after it.

    Uses torch's ``fp32_precision`` switches where they exist (mixing them with the legacy
    ``allow_tf32`` flags is an error there), else ``allow_tf32``.
    """
    switches = _fp32_switches()
    if switches:
        saved = [getattr(holder, name) for holder, name in switches]
        for holder, name in switches:
            setattr(holder, name, "tf32" if enabled else "ieee")
    else:
        saved = [torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32]
        torch.backends.cudnn.allow_tf32 = enabled
        torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        if switches:
            for (holder, name), value in zip(switches, saved, strict=True):
                setattr(holder, name, value)
        else:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@dataclass(frozen=True)
class Device:
    """A device and how networks run on it.

    Args:
        device: where tensors live.
        precision: one of :data:`PRECISIONS` (see the module docstring).
        channels_last: keep the network and its inputs in the channels_last memory format.
    """

    device: torch.device
    precision: Precision = "float32"
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @classmethod
    def choose(cls, runtime: Runtime, precision: Precision) -> Device:
        """The runtime's device with ``precision`` and its memory format on CUDA; float32 and
        the default memory format on the CPU.

        Raises:
            gianet.runtime.DeviceUnavailable: CUDA asked for and not visible.
        """
        device = runtime.torch_device()
        if device.type != "cuda":
            return cls(device)
        return cls(device, precision, runtime.channels_last)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    def math(self) -> contextlib.AbstractContextManager:
        """The TF32 switches this precision needs, set for the block (on CUDA)."""
        if not self.cuda:
            return contextlib.nullcontext()
        return tf32(self.precision != "float32")

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast for ``bf16``, nothing otherwise. The autocast cache is off, as CUDA
        graph capture requires; a training step casts each weight once anyway."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move ``model`` here, in this memory format (in place; returns it)."""
        return model.to(self.device, memory_format=self.memory_format)

    def batch(self, tensor: torch.Tensor) -> torch.Tensor:
        """A ``(N, C, H, W)`` batch on this device in this memory format."""
        tensor = tensor.to(self.device, non_blocking=True)
        return tensor.contiguous(memory_format=self.memory_format)

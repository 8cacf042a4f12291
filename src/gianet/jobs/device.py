"""Where and how networks run: the device, the float precision and the memory format.

The precision is a result setting (params.yaml ``train.precision``); on CUDA it means:

- ``float32``: IEEE float32 throughout, TF32 off for convolutions and matrix products;
- ``tf32``: float32 tensors, with the network's convolutions and matrix products on TF32
  tensor cores (inputs rounded to 10 mantissa bits, float32 accumulation);
- ``bf16``: bf16 autocast for the network, TF32 for the float32 operations autocast leaves.

The training loss runs in IEEE float32 in every precision (:mod:`gianet.training.step`).

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

from gianet.errors import GianetError
from gianet.settings.sections import Runtime

Precision = Literal["float32", "tf32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def _tf32_switches() -> list[tuple[object, str, object, object]]:
    """torch's TF32 switches as ``(holder, attribute, value allowing TF32, value forbidding
    it)``: the ``fp32_precision`` switches where they exist (torch >= 2.9; mixing them with
    the legacy flags is an error there), else the ``allow_tf32`` flags."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):
        return [
            (holder, "fp32_precision", "tf32", "ieee") for holder in (cudnn.conv, cudnn.rnn, matmul)
        ]
    return [(holder, "allow_tf32", True, False) for holder in (cudnn, matmul)]


def tf32_enabled() -> bool:
    """Whether cuDNN convolutions may use TF32 now."""
    holder, name, allowing, _ = _tf32_switches()[0]
    return getattr(holder, name) == allowing


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Allow (or forbid) TF32 for cuDNN convolutions and CUDA matrix products inside the
    block, and restore the previous switches after it."""
    switches = _tf32_switches()
    saved = [getattr(holder, name) for holder, name, _, _ in switches]
    for holder, name, allowing, forbidding in switches:
        setattr(holder, name, allowing if enabled else forbidding)
    try:
        yield
    finally:
        for (holder, name, _, _), value in zip(switches, saved, strict=True):
            setattr(holder, name, value)


@contextlib.contextmanager
def _cudnn_benchmark() -> Iterator[None]:
    """cuDNN's benchmark mode on inside the block, as it was after it (only that flag:
    ``torch.backends.cudnn.flags`` would also reset the TF32 switches)."""
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


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
            DeviceUnavailable: CUDA asked for and not visible.
        """
        device = choose_device(runtime.device)
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

    def autotuned(self) -> contextlib.AbstractContextManager:
        """cuDNN's benchmark mode for the block on CUDA (a training's shapes repeat, so the
        fastest algorithm for each is measured once and kept); the previous mode after it."""
        if not self.cuda:
            return contextlib.nullcontext()
        return _cudnn_benchmark()

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


class DeviceUnavailable(GianetError, RuntimeError):
    """The configured device is not present on this machine."""


def choose_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` or ``cpu`` as named
    (``runtime.device``).

    Raises:
        DeviceUnavailable: CUDA asked for and not visible.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            "runtime.device is 'cuda' but no CUDA device is visible here; set it to auto or "
            "cpu, or run the job on a GPU node"
        )
    return torch.device(name)

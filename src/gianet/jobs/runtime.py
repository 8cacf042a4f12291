"""How a job runs, never what it computes: params.yaml's ``runtime`` section.

Threads, loader processes, the device, the memory format, CUDA graphs and compilation,
checkpoint and validation cadence, progress bars and the network's timeout and retries change
how fast a job goes and what it logs, not the weights, metrics or files it produces. The
Snakefile hands them to jobs outside ``params:`` (as a resource), so changing them reruns
nothing, and a saved training state stays resumable across them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gianet.config import parse_section
from gianet.errors import GianetError

if TYPE_CHECKING:  # torch loads only where a device is chosen: `sid-download` runs without it
    import torch


class DeviceUnavailable(GianetError, RuntimeError):
    """The configured device is not present on this machine."""


@dataclass(frozen=True)
class Runtime:
    """params.yaml's ``runtime`` section (see its comments); defaults suit a laptop CPU."""

    threads: int = 1
    loader_workers: int = 0
    device: str = "auto"
    channels_last: bool = True
    cuda_graphs: bool = True
    compile: bool = False
    checkpoint_every: int = 0
    val_every: int = 0
    progress: bool = True
    download_timeout: float = 60.0
    download_retries: int = 5

    @classmethod
    def from_json(cls, text: str, threads: int | None = None) -> Runtime:
        """The runtime section as a rule passes it (``--runtime JSON``); ``threads``, when
        given, replaces the section's (Snakemake may give a job fewer threads than asked).

        Raises:
            ConfigError: not JSON, or a key missing, unknown or of the wrong type.
        """
        section = parse_section(text, "runtime", flag="--runtime")
        return cls(**section | ({} if threads is None else {"threads": threads}))

    def torch_device(self) -> torch.device:
        """``auto``: CUDA when present, else the CPU.

        Raises:
            DeviceUnavailable: ``cuda`` asked for on a machine without a visible CUDA device.
        """
        return choose_device(self.device)


def choose_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` or ``cpu`` as named.

    Raises:
        DeviceUnavailable: CUDA asked for and not visible.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            "runtime.device is 'cuda' but no CUDA device is visible here; set it to auto or "
            "cpu, or run the job on a GPU node"
        )
    return torch.device(name)


#: A laptop's runtime: one thread, no loader processes, CUDA when present, progress bars.
DEFAULT_RUNTIME = Runtime()

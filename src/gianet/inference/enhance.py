"""Enhancing one's own low-light raw file with a trained checkpoint (``gianet enhance``).

The file's mosaic is read and packed by its own CFA (Bayer -> 4 channels at half size, X-Trans
-> 9 at a third), amplified exactly as in training (``min(packed / scale * ratio, max_input)``,
:func:`gianet.data.tensors.amplify`, with the clip of the checkpoint's training recipe), passed
through the network, clipped to [0, 1] and written as a 16-bit PNG or TIFF of ``upscale`` times
the packed size, in the sensor's orientation (the file's rotation flag is not applied) and in
the colour space of the ground truth the checkpoint was trained on.

The amplification ratio is either given, or ``target_exposure / exposure``, the exposure
time read from the file (see :mod:`gianet.data.exposure`); when the file records none the
ratio must be given. Unlike SID's lists, a ratio is used as given, not capped at 300.

Every argument is checked before the raw is decoded (the output path, the ratio,
the tile and the device), and an output that is not finite everywhere (a broken checkpoint) is
refused rather than written as a black image.

The whole frame goes through the network at once by default, as the paper evaluates. For a
12 MP Bayer frame (1500 x 2000 packed) SID-Net on a 2-core CPU peaked at 3.7 GiB resident
(0.8 GiB of it the imports) in about 23 s; ``tile`` bounds memory by running overlapping
windows (:mod:`gianet.inference.tiling`): 2.1 GiB and 31 s with ``tile=1024``, 1.7 GiB and 65 s with
``tile=512``. A tiled plain SID-Net gives the whole-frame result, but GIA's global pooling
then sees one tile at a time, so a tiled GIA-Net is not the paper's model applied to the
frame; a warning says so.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch

from gianet.atomic import check_output_path
from gianet.data.exposure import read_exposure
from gianet.data.raw import pack, read_mosaic
from gianet.data.tensors import GT_MAX, amplify
from gianet.errors import GianetError, one_line
from gianet.inference.image16 import RGB16_SUFFIXES, write_rgb16
from gianet.inference.tiling import TILE_ALIGN, TILE_MARGIN, run_tiled, tiling_caveat
from gianet.jobs.device import Device
from gianet.models.checkpoint import load_model
from gianet.models.finite import check_finite
from gianet.training.recipe import recipe_of

#: Smallest ``--tile``: its core (the window less a margin on each side) must be at least as
#: wide as the margin, so a window computes at most 9 times the pixels it keeps; a tile of 208
#: keeps a core of 16 and computes 169 times, about 4000 windows for a 12 MP Bayer frame.
MIN_TILE = 3 * TILE_MARGIN


class EnhanceError(GianetError, ValueError):
    """An enhance request that cannot be carried out as given; the message names the fix."""


def amplification_ratio(
    raw_path: Path, ratio: float | None, target_exposure: float | None
) -> float:
    """The ratio to amplify by: ``ratio``, or ``target_exposure`` / the file's exposure time.

    Raises:
        EnhanceError: neither or both given, a value that is not a positive number, or a
            target exposure for a file that records no exposure time.
    """
    if (ratio is None) == (target_exposure is None):
        raise EnhanceError("give exactly one of --ratio and --target-exposure")
    given = ratio if ratio is not None else target_exposure
    if not (math.isfinite(given) and given > 0):
        name = "ratio" if ratio is not None else "target exposure"
        raise EnhanceError(f"the {name} must be a positive number, got {given}")
    if ratio is not None:
        return float(ratio)
    exposure = read_exposure(raw_path)
    if exposure is None:
        raise EnhanceError(
            f"{raw_path}: the file records no exposure time (no SID-style name such as "
            "00001_00_0.04s.ARW, no non-zero ExposureTime tag, no shutter time LibRaw can "
            "read); give the amplification with --ratio instead of --target-exposure"
        )
    return target_exposure / exposure.seconds


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str | None) -> torch.device:
    """The torch device ``--device`` names (``None`` or ``auto``: CUDA when present).

    Raises:
        EnhanceError: not a device name torch knows, or a CUDA/MPS device this machine lacks.
    """
    if name in (None, "", "auto"):
        return torch.device(default_device())
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise EnhanceError(
            f"--device {name!r} is not a torch device ({one_line(exc, 120)}); use "
            "cpu, cuda, cuda:N or auto"
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise EnhanceError(
                f"--device {name}: this machine has {count} usable CUDA device(s); use "
                + (f"cuda:0 to cuda:{count - 1}" if count else "cpu (or auto)")
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise EnhanceError(f"--device {name}: MPS is not available here; use cpu (or auto)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise EnhanceError(f"--device {name}: gianet runs on cpu, cuda or mps; use one of them")
    return device


def check_arguments(raw_path: Path, out_path: Path, tile: int | None) -> None:
    """Refuse what would fail or mislead later, before the raw is decoded.

    Raises:
        EnhanceError: a missing raw or a folder; an output with another suffix; a tile that
            is misaligned or whose useful core is small.
        gianet.atomic.OutputPathError: an output that is a folder or in a folder that cannot
            be written.
    """
    if not raw_path.exists():
        raise EnhanceError(f"{raw_path}: no such raw file; check the path")
    if raw_path.is_dir():
        raise EnhanceError(f"{raw_path}: is a folder; give one raw file")
    if out_path.suffix.lower() not in RGB16_SUFFIXES:
        raise EnhanceError(
            f"{out_path}: the output is written as 16-bit RGB, so name it with one of "
            f"{', '.join(RGB16_SUFFIXES)}"
        )
    check_output_path(out_path)
    if tile is not None and (tile % TILE_ALIGN or tile < MIN_TILE):
        raise EnhanceError(
            f"--tile must be a multiple of {TILE_ALIGN} of at least {MIN_TILE}, got {tile}: "
            f"each window loses {TILE_MARGIN} packed pixels of margin on every side, so a "
            f"window of {tile} keeps a core of {max(tile - 2 * TILE_MARGIN, 0)} and multiplies "
            f"the work; use --tile {MIN_TILE} or more (512 or 1024 work well)"
        )


def is_out_of_memory(exc: RuntimeError) -> bool:
    """Whether ``exc`` is an allocation failure: torch's OutOfMemoryError on a GPU, a plain
    RuntimeError from the CPU allocator."""
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc)


@torch.inference_mode()
def run_network(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    tile: int | None,
    device: str | torch.device,
    what: str = "the network",
) -> torch.Tensor:
    """(1, C, h, w) amplified input -> (1, 3, u*h, u*w) float32 on the CPU, in [0, 1].

    On CUDA the network runs in IEEE float32 with TF32 off: the output is written with 16
    bits, and TF32's 10-bit mantissa would move it by tens of steps of 1/65535, so a GPU
    would give another file than the CPU; in float32 they agree to about one step.

    ``what`` names the run in a message (the checkpoint and the raw).

    Raises:
        EnhanceError: the device ran out of memory (the message suggests ``--tile``).
        gianet.models.finite.NonFiniteOutput: the network's output is not finite everywhere.
    """
    device = torch.device(device)
    model = model.to(device)
    inputs = inputs.to(device)
    try:
        with Device(device).math():
            output = model(inputs).float().cpu() if tile is None else run_tiled(model, inputs, tile)
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            raise
        where = f"whole frame of {inputs.shape[-2]} x {inputs.shape[-1]} packed pixels"
        raise EnhanceError(
            f"out of {device} memory for the {where if tile is None else f'tile of {tile}'}; "
            "pass a (smaller) --tile, e.g. --tile 512"
        ) from None
    check_finite(
        output,
        what,
        "nothing was written",
        "Use a checkpoint whose training finished with a finite loss",
    )
    return output.clamp_(0, 1)


@torch.inference_mode()
def to_rgb16(output: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] -> (H, W, 3) uint16 ``round(65535 * output)``.

    Scales ``output`` in place rather than allocating a second full-size float copy.
    """
    return output[0].mul_(GT_MAX).add_(0.5).permute(1, 2, 0).numpy().astype(np.uint16)


def enhance_file(
    raw_path: Path,
    checkpoint: Path,
    out_path: Path,
    *,
    ratio: float | None = None,
    target_exposure: float | None = None,
    tile: int | None = None,
    device: str | None = None,
) -> Path:
    """Enhance one raw file with a checkpoint and write the result as a 16-bit RGB image.

    Args:
        raw_path: any raw rawpy reads (ARW, RAF, DNG, KDC ...) with a Bayer or X-Trans mosaic.
        checkpoint: a gianet checkpoint trained for the file's CFA.
        out_path: ``.png``, ``.tif`` or ``.tiff``; (u*h, u*w, 3) uint16 for a packed size
            h x w and the checkpoint's upscale u, values ``round(65535 * output)``.
        ratio: amplification of the normalised raw (SID: 100, 250 or 300).
        target_exposure: instead of ``ratio``, the exposure time in seconds the output should
            look like; ratio = target / the file's exposure time.
        tile: ``None`` for the whole frame at once (as the paper); else the side, in packed
            pixels (multiple of 16, at least :data:`MIN_TILE`), of overlapping windows run
            one at a time.
        device: torch device name; default (or ``auto``) CUDA when available, else CPU.

    Returns:
        ``out_path``.

    Raises:
        EnhanceError: a bad path, suffix, ratio, clip, tile or device; memory; or an output
            that is not finite (see the messages).
        gianet.data.raw.RawError: the file is unreadable or holds no usable mosaic.
        gianet.models.checkpoint.CheckpointError: the checkpoint is missing, unsafe, broken, or
            trained for another CFA.
    """
    raw_path, checkpoint, out_path = Path(raw_path), Path(checkpoint), Path(out_path)
    check_arguments(raw_path, out_path, tile)
    target = resolve_device(device)
    mosaic = read_mosaic(raw_path)
    gain = amplification_ratio(raw_path, ratio, target_exposure)
    model, recorded = load_model(checkpoint, cfa=mosaic.cfa)
    max_input = recipe_of(recorded, checkpoint).max_input  # clipped as in training
    caveat = tiling_caveat(model) if tile is not None else None
    if caveat:
        warnings.warn(
            f"{checkpoint}: tiled output differs from the whole frame: {caveat}", stacklevel=2
        )
    packed, scale = pack(mosaic)
    inputs = amplify(packed, scale, gain, max_input)[None]
    output = run_network(model, inputs, tile, target, f"{checkpoint} on {raw_path}")
    return write_rgb16(out_path, to_rgb16(output))

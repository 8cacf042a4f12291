"""Enhancing one's own low-light raw file with a trained checkpoint (``gianet enhance``).

The file's mosaic is read and packed by its own CFA (Bayer -> 4 channels at half size,
X-Trans -> 9 at a third), amplified exactly as in training (``min(packed / scale * ratio,
max_input)``, :func:`gianet.data.dataset.amplify`), passed through the network,
clipped to [0, 1] and written as a 16-bit PNG or TIFF of ``upscale`` times the packed size,
in the sensor's orientation (the file's rotation flag is not applied) and in the colour space
of the ground truth the checkpoint was trained on.

The amplification ratio is either given, or ``target_exposure / exposure``, the exposure
time read from the file (see :mod:`gianet.data.exposure`); when the file records none the
ratio must be given. Unlike SID's lists, a ratio is used as given, not capped at 300.

The whole frame goes through the network at once by default, as the paper evaluates. For a
12 MP Bayer frame (1500 x 2000 packed) SID-Net on a 2-core CPU peaked at 3.7 GiB resident
(0.8 GiB of it the imports) in about 23 s; ``tile`` bounds memory by running overlapping
windows (:mod:`gianet.tiling`): 2.1 GiB and 31 s with ``tile=1024``, 1.7 GiB and 65 s with
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

from gianet.checkpoint import CheckpointError, load_model
from gianet.data.dataset import GT_MAX, amplify
from gianet.data.exposure import read_exposure
from gianet.data.raw import pack, read_mosaic
from gianet.device import Device
from gianet.errors import GianetError
from gianet.image16 import RGB16_SUFFIXES, write_rgb16
from gianet.tiling import TILE_ALIGN, TILE_MARGIN, run_tiled, tiling_caveat


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


def is_out_of_memory(exc: RuntimeError) -> bool:
    """Whether ``exc`` is an allocation failure: torch's OutOfMemoryError on a GPU, a plain
    RuntimeError from the CPU allocator."""
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc)


@torch.inference_mode()
def run_network(
    model: torch.nn.Module, inputs: torch.Tensor, tile: int | None, device: str
) -> torch.Tensor:
    """(1, C, h, w) amplified input -> (1, 3, u*h, u*w) float32 on the CPU, in [0, 1].

    On CUDA the network runs in IEEE float32 with TF32 off: the output is written with 16
    bits, and TF32's 10-bit mantissa would move it by tens of steps of 1/65535, so a GPU
    would give another file than the CPU; in float32 they agree to about one step.

    Raises:
        EnhanceError: the device ran out of memory; the message suggests ``--tile``.
    """
    model = model.to(device)
    inputs = inputs.to(device)
    try:
        with Device(torch.device(device)).math():
            output = model(inputs).float().cpu() if tile is None else run_tiled(model, inputs, tile)
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            raise
        where = f"whole frame of {inputs.shape[-2]} x {inputs.shape[-1]} packed pixels"
        raise EnhanceError(
            f"out of {device} memory for the {where if tile is None else f'tile of {tile}'}; "
            "pass a (smaller) --tile, e.g. --tile 512"
        ) from None
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
    max_input: float = 1.0,
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
        max_input: the amplified input is clipped here; use the training value.
        tile: ``None`` for the whole frame at once (as the paper); else the side, in packed
            pixels (multiple of 16, > 192), of overlapping windows run one at a time.
        device: torch device; default CUDA when available, else CPU.

    Returns:
        ``out_path``.

    Raises:
        EnhanceError: bad suffix, ratio arguments, tile or memory (see the messages).
        gianet.data.raw.RawError: the file is unreadable or holds no usable mosaic.
        gianet.checkpoint.CheckpointError: the checkpoint is missing, unsafe, broken, or
            trained for another CFA.
    """
    raw_path, checkpoint, out_path = Path(raw_path), Path(checkpoint), Path(out_path)
    if out_path.suffix.lower() not in RGB16_SUFFIXES:
        raise EnhanceError(
            f"{out_path}: the output is written as 16-bit RGB, so name it with one of "
            f"{', '.join(RGB16_SUFFIXES)}"
        )
    if tile is not None and (tile % TILE_ALIGN or tile <= 2 * TILE_MARGIN):
        raise EnhanceError(
            f"--tile must be a multiple of {TILE_ALIGN} above {2 * TILE_MARGIN}, got {tile}"
        )
    mosaic = read_mosaic(raw_path)
    gain = amplification_ratio(raw_path, ratio, target_exposure)
    try:
        model, _ = load_model(checkpoint, cfa=mosaic.cfa)
    except CheckpointError:
        raise
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{checkpoint}: its weights do not fit the network it describes ({exc}); use a "
            "checkpoint written by gianet train"
        ) from None
    caveat = tiling_caveat(model) if tile is not None else None
    if caveat:
        warnings.warn(
            f"{checkpoint}: tiled output differs from the whole frame: {caveat}", stacklevel=2
        )
    packed, scale = pack(mosaic)
    output = run_network(
        model, amplify(packed, scale, gain, max_input)[None], tile, device or default_device()
    )
    return write_rgb16(out_path, to_rgb16(output))

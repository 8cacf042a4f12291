"""SID's released TensorFlow weights as a gianet SID-Net checkpoint.

SID (Chen et al., "Learning to See in the Dark", CVPR 2018) released its trained models as
TensorFlow 1 checkpoints (``download_models.py`` of github.com/cchen156/Learning-to-See-in-the-Dark
puts ``model.ckpt.*`` in ``checkpoint/Sony/`` and ``checkpoint/Fuji/``), read here with
:mod:`gianet.fetch.tf_checkpoint`. The graph is ``network`` of ``train_Sony.py`` and
``train_Fuji.py``; its variables map one to one onto :class:`gianet.models.unet.UNet`
(``base_channels`` = the width of ``g_conv1_1``, read from the shapes, so reduced widths
import too):

=========================  =====================  ==========================================
SID (TensorFlow)           shape (TensorFlow)     gianet
=========================  =====================  ==========================================
``g_conv{L}_{j}/weights``  ``[3, 3, in, out]``    ``encoder.{L-1}`` (L 1-4), ``bottleneck``
``g_conv{L}_{j}/biases``   ``[out]``              (5), ``decoder.{L-6}`` (6-9); ``.{j-1}.0``
``Variable`` .. ``_3``     ``[2, 2, out, in]``    ``upsample.{0..3}.conv.weight``
``g_conv10/weights``       ``[1, 1, w, 3 r**2]``  ``head.conv.weight``, channels reordered
``g_conv10/biases``        ``[3 r**2]``           ``head.conv.bias``, channels reordered
=========================  =====================  ==========================================

- Convolution kernels are HWIO; ``torch.nn.Conv2d`` wants OIHW: axes ``(3, 2, 0, 1)``.
- ``upsample_and_concat`` makes its filter with ``tf.Variable`` (unnamed: ``Variable``,
  ``Variable_1``, ... in the order up6, up7, up8, up9) of shape ``[2, 2, out, in]`` for
  ``tf.nn.conv2d_transpose``; ``torch.nn.ConvTranspose2d`` wants ``[in, out, 2, 2]``: axes
  ``(3, 2, 0, 1)`` as well, no spatial flip (TensorFlow's transposed convolution is the
  gradient of a correlation, as torch's is). Its output is given the skip's shape, which
  for 'SAME' padding keeps the first rows and columns: the crop of
  :class:`~gianet.models.unet.CroppedTransposedUp`. The concatenation puts the upsampled
  map first and the skip second, as ``UNet.forward`` does.
- ``tf.depth_to_space(x, r)`` reads output pixel ``(dy, dx)`` of colour ``c`` from channel
  ``(dy * r + dx) * 3 + c``; ``torch.nn.PixelShuffle(r)`` from channel
  ``c * r**2 + dy * r + dx``. So gianet's head channel ``j`` takes SID's channel
  ``(j % r**2) * 3 + j // r**2``.
- Sony: 4 packed Bayer channels in, ``depth_to_space`` by 2 (12 channels out of
  ``g_conv10``); Fuji: 9 packed X-Trans channels, by 3 (27). The camera named must agree.
- Adam's slots (``.../Adam``, ``.../Adam_1``) and ``beta1_power`` / ``beta2_power``, saved by
  ``tf.train.Saver()`` alongside the weights, are not part of the network and are skipped.
  Any other variable, a missing one or a shape that does not fit is refused with one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gianet import atomic
from gianet.domain.cameras import CAMERAS, Camera
from gianet.errors import GianetError
from gianet.fetch.checksums import sha256_of
from gianet.fetch.tf_checkpoint import TFCheckpoint
from gianet.models.checkpoint import save_checkpoint
from gianet.models.registry import build_model
from gianet.models.unet import LEVELS

#: Where SID's code and weights come from.
SID_REPOSITORY = "https://github.com/cchen156/Learning-to-See-in-the-Dark"
#: The provenance every imported checkpoint carries.
IMPORTED_FROM = "imported from SID's released TensorFlow weights"
#: What gianet calls the network SID released.
VARIANT = "sid_net"
#: Variables ``tf.train.Saver`` writes for Adam, not part of the network.
OPTIMIZER_STATE = re.compile(r"(.+/Adam(_1)?|beta1_power|beta2_power)")
_FIRST, _LAST = "g_conv1_1/weights", "g_conv10/weights"


class SIDImportError(GianetError, ValueError):
    """A checkpoint that is not SID's network, or not for the camera named."""


@dataclass(frozen=True)
class SIDLayout:
    """What a SID checkpoint's shapes say about its network.

    Attributes:
        in_channels: packed input channels (4 Bayer, 9 X-Trans).
        base_channels: width of the first level (SID: 32); level ``i`` has ``base * 2**i``.
        upscale: ``depth_to_space`` block size (2 Bayer, 3 X-Trans).
    """

    in_channels: int
    base_channels: int
    upscale: int


def _conv_name(level: int, index: int) -> str:
    return f"g_conv{level}_{index}"


def sid_variables(layout: SIDLayout) -> dict[str, tuple[int, ...]]:
    """Every variable of SID's ``network`` and its TensorFlow shape, in graph order."""
    widths = [layout.base_channels * 2**level for level in range(LEVELS + 1)]
    shapes: dict[str, tuple[int, ...]] = {}
    channels = layout.in_channels
    for level in range(1, 2 * LEVELS + 2):  # g_conv1 .. g_conv9
        up = level - LEVELS - 1  # 0 for the bottleneck, 1..4 going up
        out = widths[level - 1] if up <= 0 else widths[LEVELS - up]
        if up > 0:
            shapes[f"Variable{'' if up == 1 else f'_{up - 1}'}"] = (2, 2, out, channels)
            channels = 2 * out
        for index in (1, 2):
            shapes[f"{_conv_name(level, index)}/weights"] = (3, 3, channels, out)
            shapes[f"{_conv_name(level, index)}/biases"] = (out,)
            channels = out
    blocks = 3 * layout.upscale**2
    shapes[_LAST] = (1, 1, channels, blocks)
    shapes["g_conv10/biases"] = (blocks,)
    return shapes


def gianet_name(variable: str) -> str:
    """The ``UNet`` state-dict key that SID variable ``variable`` becomes."""
    if variable.startswith("Variable"):
        number = int(variable.partition("_")[2] or 0)
        return f"upsample.{number}.conv.weight"
    scope, _, kind = variable.partition("/")
    suffix = "weight" if kind == "weights" else "bias"
    if scope == "g_conv10":
        return f"head.conv.{suffix}"
    level, index = (int(part) for part in scope[len("g_conv") :].split("_"))
    if level <= LEVELS:
        block = f"encoder.{level - 1}"
    elif level == LEVELS + 1:
        block = "bottleneck"
    else:
        block = f"decoder.{level - LEVELS - 2}"
    return f"{block}.{index - 1}.0.{suffix}"


def head_channel_order(upscale: int) -> list[int]:
    """For each ``pixel_shuffle`` channel ``j``, the ``depth_to_space`` channel it takes."""
    blocks = upscale**2
    return [(j % blocks) * 3 + j // blocks for j in range(3 * blocks)]


def _describe(shape: tuple[int, ...]) -> str:
    return str(list(shape))


def read_layout(checkpoint: TFCheckpoint, camera: Camera) -> SIDLayout:
    """The network's widths, read from its first and last convolutions and checked against
    the camera's packing.

    Raises:
        SIDImportError: one line naming the variable and what was expected.
    """
    where = checkpoint.prefix
    for name, expected in ((_FIRST, "[3, 3, channels, width]"), (_LAST, "[1, 1, width, 3 r²]")):
        entry = checkpoint.entries.get(name)
        if entry is None or len(entry.shape) != 4:
            found = "missing" if entry is None else f"of shape {_describe(entry.shape)}"
            raise SIDImportError(
                f"{where}: variable {name} is {found}; SID's network has it as {expected} "
                "(is this a checkpoint of SID's train_Sony.py / train_Fuji.py?)"
            )
    first, last = checkpoint.entries[_FIRST].shape, checkpoint.entries[_LAST].shape
    cfa = camera.cfa
    if first[2] != cfa.channels or last[3] != 3 * cfa.upscale**2:
        raise SIDImportError(
            f"{where}: variables {_FIRST} {_describe(first)} and {_LAST} {_describe(last)} "
            f"describe a network for {first[2]}-channel input and {last[3]} output channels; "
            f"{camera.name}'s {cfa.name} input needs {cfa.channels} and "
            f"{3 * cfa.upscale**2} (x{cfa.upscale}): give the camera this checkpoint was "
            "trained for"
        )
    return SIDLayout(in_channels=first[2], base_channels=first[3], upscale=cfa.upscale)


def check_variables(checkpoint: TFCheckpoint, layout: SIDLayout) -> dict[str, tuple[int, ...]]:
    """The network's variables and shapes, once every one is there, float32 and of the
    expected shape, and nothing but optimizer state is left over.

    Raises:
        SIDImportError: one line naming the first variable that does not fit and what was
            expected.
    """
    where = checkpoint.prefix
    expected = sid_variables(layout)
    for name, shape in expected.items():
        entry = checkpoint.entries.get(name)
        context = f"SID's network of width {layout.base_channels} expects {_describe(shape)}"
        if entry is None:
            raise SIDImportError(f"{where}: variable {name} is missing; {context} float32")
        if entry.shape != shape:
            raise SIDImportError(
                f"{where}: variable {name} has shape {_describe(entry.shape)}; {context}"
            )
        if entry.dtype != 1:
            raise SIDImportError(
                f"{where}: variable {name} has TensorFlow type {entry.dtype}; {context} as "
                "float32 (type 1)"
            )
    for name, entry in checkpoint.entries.items():
        if name not in expected and not OPTIMIZER_STATE.fullmatch(name):
            raise SIDImportError(
                f"{where}: variable {name} {_describe(entry.shape)} is not part of SID's "
                "network (g_conv1_1 .. g_conv10 weights and biases, Variable .. Variable_3 "
                "and Adam's state); is this a checkpoint of another network?"
            )
    return expected


def to_state_dict(tensors: dict[str, np.ndarray], layout: SIDLayout) -> dict[str, torch.Tensor]:
    """SID's variables (TensorFlow layouts, float32) as ``UNet``'s state dict.

    Convolution kernels HWIO -> OIHW, transposed-convolution filters ``[2, 2, out, in]`` ->
    ``[in, out, 2, 2]`` (both axes ``(3, 2, 0, 1)``), the head's output channels reordered
    from ``depth_to_space``'s to ``pixel_shuffle``'s (:func:`head_channel_order`).
    """
    order = head_channel_order(layout.upscale)
    state = {}
    for name, value in tensors.items():
        array = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value
        if name.startswith("g_conv10/"):
            array = array[order]
        state[gianet_name(name)] = torch.from_numpy(np.ascontiguousarray(array, np.float32))
    return state


def _camera(camera: str) -> Camera:
    if camera not in CAMERAS:
        raise SIDImportError(
            f"camera {camera!r} is not one of SID's; choose one of {', '.join(CAMERAS)}"
        )
    return CAMERAS[camera]


def import_sid_checkpoint(prefix: str | Path, camera: str) -> dict:
    """SID's TensorFlow checkpoint as a gianet checkpoint dictionary.

    Args:
        prefix: the checkpoint's prefix (``checkpoint/Sony/model.ckpt``), its ``.index``
            file or the folder holding it (:func:`gianet.fetch.tf_checkpoint.resolve_prefix`).
        camera: ``"Sony"`` (Bayer, 4 -> 12 channels, x2) or ``"Fuji"`` (X-Trans, 9 -> 27, x3).

    Returns:
        What :func:`gianet.models.checkpoint.save_checkpoint` writes: ``state_dict`` (CPU
        float32 tensors of ``UNet``), ``arch`` ``"unet"``, ``arch_args``
        ``{"base_channels": width}``, ``in_channels``, ``upscale``, ``cfa``, ``camera``,
        ``variant`` ``"sid_net"`` and ``provenance`` ``{"source", "repository", "files":
        {name: sha256}, "variables", "skipped"}``. The network maps packed raw
        ``(N, C, H, W)`` in [0, 1] (amplified, clipped at 1 as SID's test scripts do) to RGB
        ``(N, 3, rH, rW)``, nominally [0, 1].

    Raises:
        TFCheckpointError: the files are missing, damaged or not a TensorFlow checkpoint.
        SIDImportError: not SID's network, or not for ``camera`` (one line naming the
            variable and what was expected).
    """
    spec = _camera(camera)
    checkpoint = TFCheckpoint(prefix)
    layout = read_layout(checkpoint, spec)
    expected = check_variables(checkpoint, layout)
    state = to_state_dict({name: checkpoint.read(name) for name in expected}, layout)
    arch_args = {"base_channels": layout.base_channels}
    model = build_model("unet", in_channels=layout.in_channels, upscale=layout.upscale, **arch_args)
    model.load_state_dict(state)  # strict: the mapping covers the network exactly
    files = {path.name: sha256_of(path) for path in checkpoint.files()}
    return {
        "state_dict": state,
        "arch": "unet",
        "arch_args": arch_args,
        "in_channels": layout.in_channels,
        "upscale": layout.upscale,
        "cfa": spec.cfa.name,
        "camera": spec.name,
        "variant": VARIANT,
        "provenance": {
            "source": IMPORTED_FROM,
            "repository": SID_REPOSITORY,
            "files": files,
            "variables": len(expected),
            "skipped": len(checkpoint.entries) - len(expected),
        },
    }


def write_imported_checkpoint(
    prefix: str | Path, camera: str, out: str | Path, recorded: dict | None = None
) -> dict:
    """Import (:func:`import_sid_checkpoint`) and write the result atomically to ``out``
    with :func:`gianet.models.checkpoint.save_checkpoint`, with ``recorded`` added to what
    it records; by default the training recipe SID's code followed at the checkpoint's width
    (:func:`gianet.training.recipe.sid_released_recipe`), which ``gianet evaluate`` and
    ``gianet enhance`` read as for any trained SID-Net. Returns the dictionary imported.

    Raises:
        OutputPathError: ``out`` cannot be written (checked before anything is read).
        TFCheckpointError, SIDImportError: see :func:`import_sid_checkpoint` (nothing is
            written then).
    """
    atomic.check_output_path(out)
    imported = import_sid_checkpoint(prefix, camera)
    meta = {key: value for key, value in imported.items() if key != "state_dict"}
    if recorded is None:
        from gianet.training.recipe import sid_released_recipe

        width = imported["arch_args"]["base_channels"]
        recorded = {"recipe": sid_released_recipe(width).model_dump_json()}
    meta |= recorded
    model = build_model(
        "unet",
        in_channels=imported["in_channels"],
        upscale=imported["upscale"],
        **imported["arch_args"],
    )
    model.load_state_dict(imported["state_dict"])
    save_checkpoint(out, model, meta)
    return imported

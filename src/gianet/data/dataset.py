"""Torch datasets over the packed cache: random training patches and full test frames.

Training follows SID and the paper (section 4.2): each epoch visits every training scene once
with one of its short exposures drawn at random, crops a patch (fixed side, or the paper's
multi-size crops of side ``a * b``, ``b`` uniform in ``[b_low, b_high]``), and applies random
horizontal and vertical flips and a transpose. Every random choice is drawn from a generator
seeded by ``(seed, epoch, index)``, so an epoch is reproducible whatever the worker layout,
and a resumed run sees the same samples as an uninterrupted one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gianet.data.cache import load_manifest, open_array
from gianet.data.lists import Pair

GT_MAX = 65535.0
#: Colour (0 R, 1 G, 2 B) of each packed channel, by CFA (SID's channel orders).
CHANNEL_COLOURS = {"bayer": (0, 1, 2, 1), "xtrans": (0, 1, 2, 0, 2, 1, 1, 1, 1)}


@dataclass(frozen=True)
class CropPolicy:
    """How training patches are cut, in packed pixels.

    ``kind="fixed"`` cuts ``patch x patch``; ``kind="multi-size"`` cuts ``a*b x a*b`` with
    ``b`` drawn uniformly from ``[b_low, b_high]`` once per batch (paper: a = 32, b in [16, 32]).
    """

    kind: str
    patch: int
    a: int = 32
    b_low: int = 16
    b_high: int = 32

    def side(self, rng: np.random.Generator) -> int:
        if self.kind == "fixed":
            return self.patch
        return self.a * int(rng.integers(self.b_low, self.b_high + 1))


def amplify(packed: np.ndarray, scale: np.ndarray, ratio: float, max_input: float) -> torch.Tensor:
    """Packed raw units to the network input, as SID does.

    Args:
        packed: (C, h, w) uint16 raw values above black.
        scale: (C,) ``white - black`` per channel.
        ratio: exposure ratio (amplification).
        max_input: the clip, 1.0 in SID's code.

    Returns:
        (C, h, w) float32 ``min(packed / scale * ratio, max_input)``.
    """
    normalised = packed.astype(np.float32) / scale[:, None, None]
    return torch.from_numpy(np.minimum(normalised * ratio, max_input))


class PackedPairs:
    """The pairs of one split of a cache, with memory-mapped arrays opened on demand."""

    def __init__(self, cache_dir: str | Path, split: str, max_input: float = 1.0):
        self.cache_dir = Path(cache_dir)
        manifest = load_manifest(self.cache_dir)
        if split not in manifest["splits"]:
            raise KeyError(f"{self.cache_dir}: the cache has no split {split!r}")
        self.pairs = [Pair(**p) for p in manifest["splits"][split]]
        self.entries = manifest["entries"]
        self.max_input = max_input
        first = self.entries[self.pairs[0].short]
        self.cfa: str = first["cfa"]
        self.in_channels: int = first["shape"][0]
        self.upscale: int = 2 if self.cfa == "bayer" else 3

    def input_array(self, pair: Pair) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """(C, h, w) uint16 memmap, (C,) scale, and the ground-truth pixel offset."""
        meta = self.entries[pair.short]
        return (
            open_array(self.cache_dir, meta),
            np.asarray(meta["scale"], np.float32),
            tuple(meta["offset"]),
        )

    def gt_array(self, pair: Pair) -> np.ndarray:
        """(3, H, W) uint16 memmap of the ground truth."""
        return open_array(self.cache_dir, self.entries[pair.long])

    def amplify(self, packed: np.ndarray, scale: np.ndarray, ratio: float) -> torch.Tensor:
        """Packed raw units to the network input (see :func:`amplify`)."""
        return amplify(packed, scale, ratio, self.max_input)


class TrainPatches(Dataset):
    """Random training patches, one item per scene per epoch.

    Item: ``(input, target)`` with input (C, p, p) float32 in [0, max_input] (amplified
    packed raw) and target (3, u*p, u*p) float32 in [0, 1] (sRGB), u the upscale (2 or 3).
    """

    def __init__(self, pairs: PackedPairs, crops: CropPolicy, seed: int, batch_size: int = 1):
        self.pairs = pairs
        self.crops = crops
        self.seed = seed
        self.batch_size = batch_size
        by_scene: dict[int, list[Pair]] = defaultdict(list)
        for pair in pairs.pairs:
            by_scene[pair.scene].append(pair)
        self.scenes = [by_scene[s] for s in sorted(by_scene)]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random draws ``__getitem__`` makes."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        # The crop side is shared by a whole batch so that multi-size patches stack.
        side_rng = np.random.default_rng([self.seed, self.epoch, index // self.batch_size, 1])
        choices = self.scenes[index]
        pair = choices[int(rng.integers(len(choices)))]
        packed, scale, (dy, dx) = self.pairs.input_array(pair)
        gt = self.pairs.gt_array(pair)
        _, height, width = packed.shape
        side = self.crops.side(side_rng)
        ph, pw = min(side, height), min(side, width)
        y = int(rng.integers(0, height - ph + 1))
        x = int(rng.integers(0, width - pw + 1))
        u = self.pairs.upscale
        inputs = self.pairs.amplify(packed[:, y : y + ph, x : x + pw], scale, pair.ratio)
        target_u16 = gt[:, dy + u * y : dy + u * (y + ph), dx + u * x : dx + u * (x + pw)]
        target = torch.from_numpy(target_u16.astype(np.float32) / GT_MAX)
        flip_w, flip_h, transpose = rng.random(3) < 0.5
        if flip_w:
            inputs, target = inputs.flip(-1), target.flip(-1)
        if flip_h:
            inputs, target = inputs.flip(-2), target.flip(-2)
        if transpose:
            inputs, target = inputs.transpose(-1, -2), target.transpose(-1, -2)
        return inputs.contiguous(), target.contiguous()


class FullFrames(Dataset):
    """Whole test or validation frames.

    Item: ``(input, target, index)`` with input (C, h, w) float32 amplified packed raw and
    target (3, u*h, u*w) float32 sRGB in [0, 1]; ``index`` selects the :class:`Pair`.
    """

    def __init__(self, pairs: PackedPairs, selection: list[Pair] | None = None):
        self.pairs = pairs
        self.selection = selection if selection is not None else pairs.pairs

    def __len__(self) -> int:
        return len(self.selection)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        pair = self.selection[index]
        packed, scale, (dy, dx) = self.pairs.input_array(pair)
        _, height, width = packed.shape
        u = self.pairs.upscale
        inputs = self.pairs.amplify(np.asarray(packed), scale, pair.ratio)
        gt = self.pairs.gt_array(pair)[:, dy : dy + u * height, dx : dx + u * width]
        return inputs, torch.from_numpy(gt.astype(np.float32) / GT_MAX), index


def preview_input(inputs: torch.Tensor, cfa: str) -> torch.Tensor:
    """A conventional-looking rendering of an amplified packed input, for figures.

    Averages the packed channels of each colour (a naive half-resolution demosaic), applies
    grey-world white balance and the sRGB gamma, and upsamples to the output size.

    Args:
        inputs: (C, h, w) amplified packed raw in [0, max_input].
        cfa: ``"bayer"`` or ``"xtrans"``.

    Returns:
        (3, u*h, u*w) float32 sRGB in [0, 1].
    """
    colours = torch.tensor(CHANNEL_COLOURS[cfa])
    rgb = torch.stack([inputs[colours == c].mean(0) for c in range(3)]).clamp(0, 1)
    means = rgb.mean(dim=(1, 2), keepdim=True).clamp_min(1e-6)
    rgb = (rgb * means[1] / means).clamp(0, 1)
    srgb = torch.where(
        rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb.clamp_min(1e-8) ** (1 / 2.4) - 0.055
    )
    upscale = 2 if cfa == "bayer" else 3
    return torch.nn.functional.interpolate(srgb[None], scale_factor=upscale, mode="nearest")[0]

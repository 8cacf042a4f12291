"""Torch datasets over the packed cache: random training crops and full test frames.

Training follows SID and the paper (section 4.2): each epoch visits every training scene once
with one of its short exposures drawn at random (``train.shots``: only its ``_00`` shots, as
SID's ``train_Sony.py`` globs ``'%05d_00*.ARW'``, or all of them), crops a patch (fixed side,
or the paper's multi-size crops of side ``a * b``, ``b`` uniform in ``[b_low, b_high]``), and
applies random flips along both axes and a transpose (``train.flips``, :data:`FLIPS`). Every
random choice is drawn from a generator seeded by ``(seed, epoch, index)`` (the crop side by
the batch's first index), so an epoch is reproducible whatever the worker layout, and a
resumed run sees the same samples as an uninterrupted one. Items are keyed by ``(epoch,
index, batch)``, so loader processes that live across epochs need no epoch state;
:class:`EpochBatches` yields the keys.

The data path is split where it is cheapest: a loader process only copies the uint16 crops
out of the memory-mapped cache (and draws the augmentation); conversion to float,
amplification, clipping, flips and transpose happen on the training device
(:func:`to_network`), in exactly the arithmetic SID's code uses (tested bit for bit).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from gianet.data.arrays import open_array
from gianet.data.crops import FixedCrops, MultiSizeCrops, check_crops_fit, crop_side
from gianet.data.lists import Pair, Selection
from gianet.data.manifest import load_manifest
from gianet.domain.cameras import CFAS
from gianet.errors import GianetError

#: A training item's key: (epoch, scene index, index that keys the batch's crop side).
SampleKey = tuple[int, int, int]


class PackedPairs:
    """Pairs of one split of a cache, with memory-mapped arrays opened on demand.

    Args:
        cache_dir: the cache folder (``CACHE/{dataset}/{camera}``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        max_input: the clip of the amplified input (``train.max_input``; 1.0 in SID's code).
        manifest: the cache's manifest as :func:`load_manifest` returned it, checked to hold
            ``split`` (so that the splits of one run are read once); ``None`` reads it here.
        selection: which of the split's pairs to use (validation's and the test protocol's);
            ``None``: all of them.

    Raises:
        CacheError: the manifest is missing, damaged or has no ``split``.
        ValueError: the selection keeps no pair.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        split: str,
        max_input: float,
        manifest: dict | None = None,
        selection: Selection | None = None,
    ):
        self.cache_dir = Path(cache_dir)
        if manifest is None:
            manifest = load_manifest(self.cache_dir, (split,))
        self.pairs = [Pair(**p) for p in manifest["splits"][split]]
        if selection is not None:
            self.pairs = selection.apply(self.pairs)
        if not self.pairs:
            raise ValueError(
                f"{self.cache_dir}: the {split} split keeps no pair under {selection}; test "
                "every exposure or exclude fewer scenes"
            )
        self.entries = manifest["entries"]
        #: How the inputs were packed (``levels``).
        self.protocol: dict = manifest.get("protocol", {})
        self.max_input = max_input
        first = self.entries[self.pairs[0].short]
        self.cfa: str = first["cfa"]
        self.in_channels: int = first["shape"][0]
        self.upscale: int = CFAS[self.cfa].upscale

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


class TrainingPoolError(GianetError, ValueError):
    """The training split holds nothing the training settings can draw."""


#: Training pools (``train.shots``): ``first``, a scene's ``_00`` shots (SID's code); ``all``.
SHOTS = ("first", "all")
#: Augmentations (``train.flips``): ``sid``, SID's code since 2018-10-08 (commits bbf255e,
#: 29fa6bd): flips along H and W and a transpose; ``sid-before-fix``, its code before, whose
#: second flip (``axis=0``, the batch axis of a batch of one) was a no-op: no flip along W.
FLIPS = ("sid", "sid-before-fix")


def draw_augmentation(rng: np.random.Generator, flips: str) -> np.ndarray:
    """The random flips of one sample: (3,) bool, flip along W, flip along H, transpose,
    each independently with probability 1/2, as SID's three ``np.random.randint(2)`` draws.
    Three numbers are drawn whatever ``flips`` says, so every other draw of the sample is the
    same under both settings; ``"sid-before-fix"`` never flips along W."""
    draws = rng.random(3) < 0.5
    if flips == "sid-before-fix":
        draws[0] = False
    return draws


class TrainPatches(Dataset):
    """Random training crops, one item per scene per epoch, keyed by :data:`SampleKey`.

    Item: a dict of CPU tensors, the raw crops and how to turn them into network tensors
    (:func:`to_network` does, on the device):

    - ``input``: (C, p, p) uint16 packed raw crop; ``target``: (3, u*p, u*p) uint16 ground
      truth (u the upscale, 2 or 3);
    - ``scale``: (C,) float32; ``ratio``: () float32, the pair's amplification;
    - ``flips``: (3,) bool (see :func:`draw_augmentation`); ``origin``: (2,) int64, the
      crop's top-left corner in packed pixels.

    Args:
        pairs: the cache's training split.
        crops: how patches are cut.
        seed: keys every draw with the epoch and the index.
        shots: ``"first"`` draws each scene's inputs from its ``_00`` shots only (SID's
            ``train_Sony.py``), leaving out scenes that have none; ``"all"`` from every
            short exposure of the scene.
        flips: ``"sid"`` or ``"sid-before-fix"`` (see :data:`FLIPS`).

    Raises:
        ValueError: an unknown ``shots`` or ``flips``.
        TrainingPoolError: ``shots="first"`` and no scene has a ``_00`` shot.
    """

    def __init__(
        self,
        pairs: PackedPairs,
        crops: FixedCrops | MultiSizeCrops,
        seed: int,
        shots: str,
        flips: str,
    ):
        if shots not in SHOTS or flips not in FLIPS:
            raise ValueError(
                f"shots must be one of {SHOTS} and flips one of {FLIPS}, got {shots!r}, {flips!r}"
            )
        self.pairs = pairs
        self.crops = crops
        self.seed = seed
        self.flips = flips
        by_scene: dict[int, list[Pair]] = defaultdict(list)
        for pair in pairs.pairs:
            if shots == "all" or pair.shot == 0:
                by_scene[pair.scene].append(pair)
        if not by_scene:
            raise TrainingPoolError(
                f"{pairs.cache_dir}: no training scene has a _00 shot to draw from; set "
                "train.shots to all"
            )
        self.scenes = [by_scene[s] for s in sorted(by_scene)]
        shapes = [pairs.entries[pair.short]["shape"] for scene in self.scenes for pair in scene]
        check_crops_fit(
            crops, [(h, w) for _, h, w in shapes], f"the training frames of {pairs.cache_dir}"
        )

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, key: SampleKey) -> dict[str, torch.Tensor]:
        epoch, index, batch = key
        rng = np.random.default_rng([self.seed, epoch, index])
        # The crop side is shared by a whole batch so that multi-size patches stack.
        side_rng = np.random.default_rng([self.seed, epoch, batch, 1])
        choices = self.scenes[index]
        pair = choices[int(rng.integers(len(choices)))]
        packed, scale, (dy, dx) = self.pairs.input_array(pair)
        gt = self.pairs.gt_array(pair)
        _, height, width = packed.shape
        side = crop_side(self.crops, side_rng)
        ph, pw = min(side, height), min(side, width)
        y = int(rng.integers(0, height - ph + 1))
        x = int(rng.integers(0, width - pw + 1))
        u = self.pairs.upscale
        target = gt[:, dy + u * y : dy + u * (y + ph), dx + u * x : dx + u * (x + pw)]
        return {
            "input": torch.from_numpy(np.array(packed[:, y : y + ph, x : x + pw])),
            "target": torch.from_numpy(np.array(target)),
            "scale": torch.from_numpy(scale),
            "ratio": torch.tensor(pair.ratio, dtype=torch.float32),
            "flips": torch.from_numpy(draw_augmentation(rng, self.flips)),
            "origin": torch.tensor([y, x]),
        }


class EpochBatches(Sampler[list[SampleKey]]):
    """Batches of :class:`TrainPatches` keys for epochs ``first_epoch .. epochs - 1``.

    Each epoch visits every scene once in an order drawn from ``(seed, epoch)`` (as a
    ``RandomSampler`` seeded so would), cut into batches of ``batch_size`` (the last one may
    be smaller); the first epoch starts after ``skip`` batches, those a resumed run already
    did. One loader iterator can thus run the whole training, prefetching across epochs.
    """

    def __init__(
        self,
        scenes: int,
        batch_size: int,
        seed: int,
        epochs: int,
        first_epoch: int = 0,
        skip: int = 0,
    ) -> None:
        self.scenes = scenes
        self.batch_size = batch_size
        self.seed = seed
        self.epochs = epochs
        self.first_epoch = first_epoch
        self.skip = skip

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.scenes / self.batch_size)

    def epoch(self, epoch: int) -> list[list[SampleKey]]:
        """The batches of one epoch, in order."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.scenes, generator=generator).tolist()
        chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        return [[(epoch, index, chunk[0]) for index in chunk] for chunk in chunks]

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for epoch in range(self.first_epoch, self.epochs):
            yield from self.epoch(epoch)[self.skip if epoch == self.first_epoch else 0 :]

    def __len__(self) -> int:
        remaining = max(self.epochs - self.first_epoch, 0) * self.steps_per_epoch
        return max(remaining - self.skip, 0)


class FullFrames(Dataset):
    """Whole test or validation frames, raw; :func:`frame_to_network` converts them.

    Item: a dict of CPU tensors, ``input`` (C, h, w) uint16 packed raw, ``target``
    (3, u*h, u*w) uint16 ground truth, ``scale`` (C,) float32, ``ratio`` () float32, and
    ``index``, the position of its :class:`Pair` in ``selection``.
    """

    def __init__(self, pairs: PackedPairs, selection: list[Pair] | None = None):
        self.pairs = pairs
        self.selection = selection if selection is not None else pairs.pairs

    def __len__(self) -> int:
        return len(self.selection)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        pair = self.selection[index]
        packed, scale, (dy, dx) = self.pairs.input_array(pair)
        _, height, width = packed.shape
        u = self.pairs.upscale
        gt = self.pairs.gt_array(pair)[:, dy : dy + u * height, dx : dx + u * width]
        return {
            "input": torch.from_numpy(np.array(packed)),
            "target": torch.from_numpy(np.array(gt)),
            "scale": torch.from_numpy(scale),
            "ratio": torch.tensor(pair.ratio, dtype=torch.float32),
            "index": index,
        }

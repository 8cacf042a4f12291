"""Learned perceptual metrics, LPIPS and PieAPP, from locally cached weights only.

Both metrics need pretrained weights that do not ship with their packages and that
``torchvision`` and ``piq`` would download on first use. Here nothing downloads implicitly:
:mod:`gianet.fetch.weights` declares the files and fetches them once into
``<torch_home>/hub/checkpoints``, and the metric classes only read that cache. When a file is
absent they raise :class:`gianet.fetch.weights.MissingWeights`, which names each file, where to put
it and where to get it, so that evaluation can report these metrics as unavailable and still
finish PSNR and SSIM.

Both metric classes take ``pred`` and ``target`` of shape ``(N, 3, H, W)``, RGB in
``[0, 1]``, of any real dtype (measured in float32, as the networks were trained), on any
device, and return a float64 tensor on the CPU: one value per image with
``reduction="none"`` (shape ``(N,)``), or their mean or sum (shape ``()``). Images are
measured one at a time on the metric's device, so memory does not grow with ``N``.

Peak memory on CPU (2-core Xeon, torch 2.14, one thread), measured as the growth of the peak
RSS (``VmHWM``) over the RSS of a process already holding the model and both images
(``benchmarks/bench_lpips_memory.py`` for LPIPS): LPIPS with AlexNet on a 12 MP pair
(4240 x 2832) 833 MiB in 15.5 s (``lpips.LPIPS.forward``: 2997 MiB); with VGG-16 on a quarter
of it (2120 x 1416) 3.0 GiB in 88 s (``forward``: 7.1 GiB); PieAPP on a 12 MP pair 0.6 GB
with the default chunk of 128 patches, in 11 minutes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import lpips
import torch
from piq.pieapp import PieAPPModel

from gianet.evaluation.metrics import check_inputs, reduce_values
from gianet.fetch.weights import LPIPS_BACKBONES, require_weights

#: Patches of PieAPP evaluated at once: about 4 MB each on CPU (activations of the 64 x 64
#: patch in both images plus their 120,832 features), ~0.6 GB in all (measured).
PIEAPP_CHUNK = 128
#: PieAPP's patch side and piq's default stride between patches ("sparse" sampling).
PIEAPP_PATCH = 64
PIEAPP_STRIDE = 27
#: Smallest side each LPIPS backbone accepts: AlexNet's third pooling layer needs a 3 x 3
#: input; VGG-16's fourth pooling layer (before relu5_3) a 2 x 2 one.
LPIPS_MIN_SIDES = {"alex": 31, "vgg": 16}
#: Feature values normalised at once when a layer's distance is summed (row chunks): 64 MB.
LPIPS_CHUNK_VALUES = 2**24


class LPIPSMetric:
    """LPIPS v0.1 (``lpips.LPIPS(net=backbone, version="0.1")``) with the AlexNet or VGG-16
    backbone (``evaluate.lpips_backbone``: ``"alex"``, LPIPS's default, or ``"vgg"``, the
    paper's).

    The model is built with ``pnet_rand=True``, so torchvision constructs an untrained
    backbone and has no download to attempt whatever ``TORCH_HOME`` or ``torch.hub.set_dir``
    say; its ImageNet weights are then loaded from the cache file (strictly: every tensor must
    be present with the right shape). The linear heads come from the ``lpips`` package.

    Each image pair is measured whole, with ``lpips.LPIPS.forward``'s arithmetic
    (``normalize=True``: inputs in ``[0, 1]`` are mapped to ``[-1, 1]``), in an order that
    keeps little alive: the backbone runs one slice at a time on both images, each layer's
    distance is summed over row chunks of :data:`LPIPS_CHUNK_VALUES` values (unit-normalised
    over channels, squared difference, linear head) before the next slice runs, so only the
    two images' current feature maps and one chunk are held; ``forward`` holds raw,
    normalised and difference maps of every layer at once. Whole frames need no tiling
    (tiles would change the backbone's zero padding at their borders, and so the value). Only
    the summation order differs from ``forward`` (float64 sums of the chunks; a test checks
    agreement to 1e-6 relative).
    """

    def __init__(self, torch_home: Path, device: torch.device | str, backbone: str) -> None:
        """Load the model from the cache rooted at ``torch_home``; raises MissingWeights.

        Raises:
            ValueError: ``backbone`` is not ``"alex"`` or ``"vgg"``.
        """
        if backbone not in LPIPS_BACKBONES:
            raise ValueError(f"LPIPS backbone must be alex or vgg, got {backbone!r}")
        name = LPIPS_BACKBONES[backbone]
        path = require_weights(torch_home, [name])[name]
        with warnings.catch_warnings():  # torchvision deprecates lpips's `pretrained=False`
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(net=backbone, version="0.1", pnet_rand=True, verbose=False)
        model.net.load_state_dict(_lpips_backbone_state(path, model.net.state_dict()))
        self.min_side = LPIPS_MIN_SIDES[backbone]
        self.device = torch.device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.slices = [getattr(self.model.net, f"slice{k + 1}") for k in range(len(model.lins))]

    @torch.inference_mode()
    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
    ) -> torch.Tensor:
        """LPIPS distance of each image to its target: 0 for identical images, larger is worse.

        Args:
            pred: ``(N, 3, H, W)`` RGB in ``[0, 1]``, ``H, W`` at least the backbone's
                :data:`LPIPS_MIN_SIDES` (31 AlexNet, 16 VGG-16).
            target: same shape as ``pred``, in ``[0, 1]``.
            reduction: ``"none"`` (shape ``(N,)``), ``"mean"`` or ``"sum"`` (shape ``()``).

        Returns:
            float64 CPU tensor of distances (non-negative; typically below 1).
        """
        _check_rgb_inputs(pred, target, reduction, min_side=self.min_side)
        values = [
            self._distance(
                p[None].to(self.device, torch.float32), t[None].to(self.device, torch.float32)
            )
            for p, t in zip(pred, target, strict=True)
        ]
        return reduce_values(torch.tensor(values, dtype=torch.float64), reduction)

    def _distance(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        """LPIPS of two ``(1, 3, H, W)`` images in ``[0, 1]``, as ``lpips.LPIPS.forward``."""
        x = self.model.scaling_layer(2 * pred - 1)
        y = self.model.scaling_layer(2 * target - 1)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for backbone_slice, lin in zip(self.slices, self.model.lins, strict=True):
            x, y = backbone_slice(x), backbone_slice(y)  # frees the previous layer's maps
            total += _layer_distance(lin, x, y)
        return total.item()


def _layer_distance(lin: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One layer's LPIPS term, ``spatial_average(lin((normalize(x) - normalize(y)) ** 2))``,
    of feature maps ``(1, C, h, w)``, summed over row chunks in float64."""
    _, channels, height, width = x.shape
    rows = max(1, LPIPS_CHUNK_VALUES // (channels * width))
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for top in range(0, height, rows):
        a = lpips.normalize_tensor(x[..., top : top + rows, :])
        b = lpips.normalize_tensor(y[..., top : top + rows, :])
        total += lin((a - b) ** 2).sum(dtype=torch.float64)
    return total / (height * width)


class PieAPPMetric:
    """PieAPP as ``piq.PieAPP()`` computes it (stride 27, data range 1), in chunks of patches.

    piq crops every 64 x 64 patch of both images at once and runs them through the network in
    one batch, which for a 12 MP frame (15,965 patches) needs tens of GB. This class runs the
    same network (piq's ``PieAPPModel``, with piq's weights and piq's fix of the shape of
    ``ref_score_subtract.weight``) on ``chunk`` patches at a time and accumulates piq's
    weighted mean of the patch scores, ``sum(score * weight) / sum(weight)``, in float64.
    Per-patch values are piq's; only the order and precision of the final sums differ (a test
    checks agreement with ``piq.PieAPP`` to 1e-5 relative).

    On CPU a 12 MP frame costs about 32 TFLOP (two images x 15,965 patches x ~1 GFLOP):
    minutes per frame; use a GPU for full test sets.
    """

    def __init__(
        self, torch_home: Path, device: torch.device | str = "cpu", chunk: int = PIEAPP_CHUNK
    ) -> None:
        """Load piq's model from the cache rooted at ``torch_home``; raises MissingWeights."""
        if chunk < 1:
            raise ValueError(f"chunk must be a positive number of patches, got {chunk}")
        path = require_weights(torch_home, ["pieapp"])["pieapp"]
        state = torch.load(path, map_location="cpu", weights_only=True)
        # As piq.PieAPP.__init__ does: the release stores this (1, 1) weight with shape (1,).
        state["ref_score_subtract.weight"] = state["ref_score_subtract.weight"].unsqueeze(1)
        model = PieAPPModel()
        model.load_state_dict(state)
        self.device = torch.device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.chunk = chunk

    @torch.inference_mode()
    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
    ) -> torch.Tensor:
        """PieAPP error of each image with respect to its target; larger is worse.

        Args:
            pred: ``(N, 3, H, W)`` RGB in ``[0, 1]``, ``H, W >= 64``.
            target: same shape as ``pred``, in ``[0, 1]``.
            reduction: ``"none"`` (shape ``(N,)``), ``"mean"`` or ``"sum"`` (shape ``()``).

        Returns:
            float64 CPU tensor of PieAPP values (can be slightly negative).
        """
        _check_rgb_inputs(pred, target, reduction, min_side=PIEAPP_PATCH)
        values = [
            self._score(p.to(self.device, torch.float32), t.to(self.device, torch.float32))
            for p, t in zip(pred, target, strict=True)
        ]
        return reduce_values(torch.tensor(values, dtype=torch.float64), reduction)

    def _score(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        """Weighted mean patch score of two ``(3, H, W)`` images in ``[0, 1]``."""
        pred_grid, target_grid = _patch_grid(pred), _patch_grid(target)
        columns = pred_grid.shape[1]
        count = pred_grid.shape[0] * columns
        weighted_sum = weight_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        for start in range(0, count, self.chunk):
            index = torch.arange(start, min(start + self.chunk, count), device=self.device)
            rows, cols = index // columns, index % columns
            pred_patches = pred_grid[rows, cols] * 255  # (n, 3, 64, 64) in [0, 255], as piq
            target_patches = target_grid[rows, cols] * 255
            pred_features, pred_weights = self.model(pred_patches)
            target_features, target_weights = self.model(target_patches)
            scores, weights = self.model.compute_difference(
                target_features - pred_features, target_weights - pred_weights
            )
            weighted_sum = weighted_sum + (scores * weights).sum(dtype=torch.float64)
            weight_sum = weight_sum + weights.sum(dtype=torch.float64)
        return (weighted_sum / weight_sum).item()


def _lpips_backbone_state(path: Path, backbone: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of lpips's ``backbone`` state, read from torchvision's file.

    lpips splits torchvision's ``alexnet().features`` or ``vgg16().features`` into ``slice1``
    ... ``slice5`` keeping each layer's index, so its ``slice2.3.weight`` is torchvision's
    ``features.3.weight``; the classifier is unused. Tensors absent from the file are left
    out, for ``load_state_dict`` to report.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    renamed = {key: f"features.{key.split('.', 1)[1]}" for key in backbone}
    return {key: state[name] for key, name in renamed.items() if name in state}


def _check_rgb_inputs(
    pred: torch.Tensor, target: torch.Tensor, reduction: str, min_side: int
) -> None:
    """The checks of :mod:`gianet.evaluation.metrics` for data range 1, plus three RGB channels."""
    check_inputs(pred, target, 1.0, reduction, min_side=min_side)
    if pred.shape[1] != 3:
        raise ValueError(f"expected RGB images (N, 3, H, W), got {tuple(pred.shape)}")


def _patch_grid(image: torch.Tensor) -> torch.Tensor:
    """View of every PieAPP patch of a ``(3, H, W)`` image: ``(rows, cols, 3, 64, 64)``.

    Patch ``(i, j)`` covers rows ``27 i ... 27 i + 63`` and columns ``27 j ... 27 j + 63``, as
    ``piq.functional.crop_patches`` cuts them; no memory is copied.
    """
    patches = image.unfold(1, PIEAPP_PATCH, PIEAPP_STRIDE).unfold(2, PIEAPP_PATCH, PIEAPP_STRIDE)
    return patches.permute(1, 2, 0, 3, 4)


def build_lpips(torch_home: Path, device: torch.device, lpips_backbone: str) -> LPIPSMetric:
    """LPIPS on ``evaluate.lpips_backbone``, as the metric registry builds it."""
    return LPIPSMetric(torch_home, device, lpips_backbone)


def build_pieapp(torch_home: Path, device: torch.device, lpips_backbone: str) -> PieAPPMetric:
    """PieAPP, as the metric registry builds it."""
    return PieAPPMetric(torch_home, device)

"""Learned perceptual metrics, LPIPS and PieAPP, from locally cached weights only.

Both metrics need pretrained weights that do not ship with their packages and that
``torchvision`` and ``piq`` would download on first use. Here nothing downloads implicitly:
:data:`WEIGHTS` declares the files, :func:`fetch_weights` downloads them once into
``<torch_home>/hub/checkpoints`` (the cache torch.hub itself uses, so a cache filled by
torchvision or piq is reused), and the metric classes only read that cache. When a file is
absent they raise :class:`MissingWeights`, which names each file, where to put it and where
to get it, so that evaluation can report these metrics as unavailable and still finish PSNR
and SSIM.

Both metric classes take ``pred`` and ``target`` of shape ``(N, 3, H, W)``, RGB in
``[0, 1]``, of any real dtype (measured in float32, as the networks were trained), on any
device, and return a float64 tensor on the CPU: one value per image with
``reduction="none"`` (shape ``(N,)``), or their mean or sum (shape ``()``). Images are
measured one at a time on the metric's device, so memory does not grow with ``N``.

Peak memory for one full 12 MP frame pair (4240 x 2832) on CPU (2-core Xeon, torch 2.14,
one thread), measured as the growth of the peak RSS (``VmHWM``) over the RSS of a process
already holding the model and both images: LPIPS 1.35 GB in 15 s (``lpips.LPIPS.forward``
itself: 3.0 GB); PieAPP 0.6 GB with the default chunk of 128 patches, in 11 minutes.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import lpips
import torch
from lpips.lpips import spatial_average
from piq.pieapp import PieAPPModel

from gianet.data.download import DownloadError, DownloadResult, download
from gianet.errors import GianetError
from gianet.metrics import check_inputs, reduce_values


@dataclass(frozen=True)
class PretrainedFile:
    """One pretrained weights file, as the torch.hub cache holds it.

    Attributes:
        url: where the file is published.
        cache_path: its path relative to ``TORCH_HOME``; torch.hub keeps downloads in
            ``hub/checkpoints/<file name of the URL>``.
        sha256_prefix: leading hex digits of the file's sha256 when they are published
            (torchvision embeds the first 8 in its file names), else ``None``: the first
            download then records the full digest in the checksum file (trust on first use).
        used_by: the metric that needs it, for messages.
    """

    url: str
    cache_path: str
    sha256_prefix: str | None
    used_by: str

    def path(self, torch_home: Path) -> Path:
        """Where the file lies in the cache rooted at ``torch_home``."""
        return Path(torch_home) / self.cache_path


#: The files the perceptual metrics need, by name. The URLs are those of the installed
#: packages (``torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url`` and
#: ``piq.PieAPP._weights_url``; a test checks they still agree). LPIPS's linear heads
#: (``lpips/weights/v0.1/alex.pth``) ship inside the ``lpips`` package and are not listed.
WEIGHTS: dict[str, PretrainedFile] = {
    "alexnet": PretrainedFile(
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        cache_path="hub/checkpoints/alexnet-owt-7be5be79.pth",
        sha256_prefix="7be5be79",
        used_by="LPIPS (AlexNet backbone)",
    ),
    "pieapp": PretrainedFile(
        url="https://github.com/photosynthesis-team/piq/releases/download/v0.5.4/PieAPPv0.1.pth",
        cache_path="hub/checkpoints/PieAPPv0.1.pth",
        sha256_prefix=None,
        used_by="PieAPP",
    ),
}

#: Patches of PieAPP evaluated at once: about 4 MB each on CPU (activations of the 64 x 64
#: patch in both images plus their 120,832 features), ~0.6 GB in all (measured).
PIEAPP_CHUNK = 128
#: PieAPP's patch side and piq's default stride between patches ("sparse" sampling).
PIEAPP_PATCH = 64
PIEAPP_STRIDE = 27
#: Smallest side AlexNet accepts (its third pooling layer needs a 3 x 3 input).
LPIPS_MIN_SIDE = 31


class MissingWeights(GianetError, FileNotFoundError):
    """Pretrained weights are absent from the cache; the message says what to put where.

    Attributes:
        names: the missing entries of :data:`WEIGHTS`.
    """

    def __init__(self, names: Iterable[str], torch_home: Path) -> None:
        self.names = tuple(names)
        lines = [
            f"pretrained weights missing from the torch cache {torch_home}:",
            *(
                f"  {name} for {WEIGHTS[name].used_by}: put {Path(WEIGHTS[name].cache_path).name}"
                f" at {WEIGHTS[name].path(torch_home)} (download it from {WEIGHTS[name].url})"
                for name in self.names
            ),
            "Run gianet.perceptual.fetch_weights (the workflow's weights rule) where there is "
            "network access, or copy the files there by hand.",
        ]
        super().__init__("\n".join(lines))


def weights_status(torch_home: Path) -> dict[str, Path | None]:
    """Each entry of :data:`WEIGHTS` -> its path in the cache if present, else ``None``."""
    return {
        name: path if (path := spec.path(torch_home)).is_file() else None
        for name, spec in WEIGHTS.items()
    }


def require_weights(torch_home: Path, names: Iterable[str]) -> dict[str, Path]:
    """Paths of the named weights files in the cache.

    Raises:
        MissingWeights: one or more are absent; lists all of them.
    """
    status = weights_status(torch_home)
    names = _known_names(names)
    missing = [name for name in names if status[name] is None]
    if missing:
        raise MissingWeights(missing, torch_home)
    return {name: status[name] for name in names}


def fetch_weights(
    torch_home: Path,
    names: Iterable[str] = tuple(WEIGHTS),
    *,
    checksum_file: Path | None = None,
    progress: bool = True,
) -> dict[str, DownloadResult]:
    """Download the named weights into the cache, unless present; verify their sha256.

    Uses :func:`gianet.data.download.download` (resumable, retried, atomic). A file whose
    sha256 prefix is published is checked against it before its digest is recorded; a file
    that does not match is moved to ``<file>.part`` and never left in the cache. Files already
    present are verified the same way, without network access.

    Args:
        torch_home: root of the torch cache (``TORCH_HOME``).
        names: entries of :data:`WEIGHTS`.
        checksum_file: where full digests are recorded on first download and verified
            afterwards (see :mod:`gianet.data.download`); the workflow passes a
            version-controlled file, so PieAPP's digest, which is not published, is fixed
            by the first fetch.
        progress: show a progress bar per file.

    Returns:
        Name -> what :func:`download` left in the cache.

    Raises:
        DownloadError: a file could not be fetched (no network, say; the message says where
            to put it by hand) or its sha256 is wrong.
    """
    return {
        name: _fetch_one(WEIGHTS[name], Path(torch_home), checksum_file, progress)
        for name in _known_names(names)
    }


class LPIPSMetric:
    """LPIPS v0.1 with the AlexNet backbone (``lpips.LPIPS(net="alex", version="0.1")``).

    The model is built with ``pnet_rand=True``, so torchvision constructs an untrained
    AlexNet and has no download to attempt whatever ``TORCH_HOME`` or ``torch.hub.set_dir``
    say; the backbone's ImageNet weights are then loaded from the cache file (strictly: every
    tensor must be present with the right shape). The linear heads come from the ``lpips``
    package as usual.

    Each image pair is measured whole, with exactly ``lpips.LPIPS.forward``'s arithmetic
    (``normalize=True``: inputs in ``[0, 1]`` are mapped to ``[-1, 1]``), in an order that
    keeps only the two images' normalised feature maps and one layer's difference alive,
    where ``forward`` holds raw, normalised and difference maps of every layer at once: a
    12 MP frame needs ~1.35 GB on CPU instead of ~3.0 GB, so no tiling is needed (tiles
    would change AlexNet's zero padding at their borders, and so the value).
    """

    def __init__(self, torch_home: Path, device: torch.device | str = "cpu") -> None:
        """Load the model from the cache rooted at ``torch_home``; raises MissingWeights."""
        backbone = require_weights(torch_home, ["alexnet"])["alexnet"]
        with warnings.catch_warnings():  # torchvision deprecates lpips's `pretrained=False`
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
        model.net.load_state_dict(_lpips_backbone_state(backbone, model.net.state_dict()))
        self.device = torch.device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)

    @torch.inference_mode()
    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
    ) -> torch.Tensor:
        """LPIPS distance of each image to its target: 0 for identical images, larger is worse.

        Args:
            pred: ``(N, 3, H, W)`` RGB in ``[0, 1]``, ``H, W >= 31``.
            target: same shape as ``pred``, in ``[0, 1]``.
            reduction: ``"none"`` (shape ``(N,)``), ``"mean"`` or ``"sum"`` (shape ``()``).

        Returns:
            float64 CPU tensor of distances (non-negative; typically below 1).
        """
        _check_rgb_inputs(pred, target, reduction, min_side=LPIPS_MIN_SIDE)
        values = [
            self._distance(
                p[None].to(self.device, torch.float32), t[None].to(self.device, torch.float32)
            )
            for p, t in zip(pred, target, strict=True)
        ]
        return reduce_values(torch.tensor(values, dtype=torch.float64), reduction)

    def _distance(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        """LPIPS of two ``(1, 3, H, W)`` images in ``[0, 1]``, as ``lpips.LPIPS.forward``."""
        pred_features = self._normalized_features(pred)
        target_features = self._normalized_features(target)
        total = 0
        for lin, pred_layer, target_layer in zip(
            self.model.lins, pred_features, target_features, strict=True
        ):
            total += spatial_average(lin((pred_layer - target_layer) ** 2))
        return total.item()

    def _normalized_features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """AlexNet's five ReLU outputs for ``image``, each unit-normalised over channels."""
        features = list(self.model.net(self.model.scaling_layer(2 * image - 1)))
        for layer, values in enumerate(features):
            features[layer] = lpips.normalize_tensor(values)  # frees each raw map in turn
        return features


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


def _known_names(names: Iterable[str]) -> list[str]:
    """``names`` as a list, refusing any that :data:`WEIGHTS` does not declare."""
    names = list(names)
    unknown = sorted(set(names) - set(WEIGHTS))
    if unknown:
        raise ValueError(f"unknown weights {unknown}; known: {sorted(WEIGHTS)}")
    return names


def _fetch_one(
    spec: PretrainedFile, torch_home: Path, checksum_file: Path | None, progress: bool
) -> DownloadResult:
    """Download one file into the cache; check its published sha256 prefix before recording."""
    dest = spec.path(torch_home)
    record_now = spec.sha256_prefix is None
    try:
        result = download(
            spec.url, dest, checksum_file=checksum_file if record_now else None, progress=progress
        )
    except DownloadError as error:
        raise DownloadError(
            f"could not fetch the {spec.used_by} weights: {error}\nWithout network access, "
            f"download {spec.url} elsewhere and copy it to {dest}."
        ) from error
    if record_now:
        return result
    if not result.sha256.startswith(spec.sha256_prefix):
        part = dest.with_name(dest.name + ".part")
        os.replace(dest, part)
        raise DownloadError(
            f"{dest.name}: sha256 {result.sha256} does not start with the published "
            f"{spec.sha256_prefix}; the bytes were moved to {part}. Delete it and fetch again."
        )
    if checksum_file is None:
        return result
    verified = download(spec.url, dest, checksum_file=checksum_file, progress=False)
    return dataclasses.replace(result, recorded=verified.recorded)


def _lpips_backbone_state(path: Path, backbone: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of lpips's AlexNet ``backbone`` state, read from torchvision's file.

    lpips splits ``alexnet().features`` into ``slice1`` ... ``slice5`` keeping each layer's
    index, so its ``slice2.3.weight`` is torchvision's ``features.3.weight``; the classifier
    is unused. Tensors absent from the file are left out, for ``load_state_dict`` to report.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    renamed = {key: f"features.{key.split('.', 1)[1]}" for key in backbone}
    return {key: state[name] for key, name in renamed.items() if name in state}


def _check_rgb_inputs(
    pred: torch.Tensor, target: torch.Tensor, reduction: str, min_side: int
) -> None:
    """The checks of :mod:`gianet.metrics` for data range 1, plus three RGB channels."""
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

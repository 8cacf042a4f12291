"""The pretrained weights of the perceptual metrics: which files, fetching them, checking them.

LPIPS and PieAPP need weights that their packages download on first use. gianet never lets
them: :data:`WEIGHTS` declares the files, :func:`fetch_weights` downloads them once into
``<torch_home>/hub/checkpoints`` (the cache torch.hub itself uses, so a cache filled by
torchvision or piq is reused) and verifies them, and :func:`require_weights` finds them there
or raises :class:`MissingWeights`, whose message names each file, where to put it and where
to get it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gianet import atomic
from gianet.errors import GianetError
from gianet.fetch.download import DownloadError, DownloadResult, download


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
#: packages (``torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url``,
#: ``torchvision.models.VGG16_Weights.IMAGENET1K_V1.url`` and ``piq.PieAPP._weights_url``; a
#: test checks they still agree). LPIPS's linear heads (``lpips/weights/v0.1/alex.pth`` and
#: ``vgg.pth``) ship inside the ``lpips`` package and are not listed.
WEIGHTS: dict[str, PretrainedFile] = {
    "alexnet": PretrainedFile(
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        cache_path="hub/checkpoints/alexnet-owt-7be5be79.pth",
        sha256_prefix="7be5be79",
        used_by="LPIPS (AlexNet backbone)",
    ),
    "vgg16": PretrainedFile(
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        cache_path="hub/checkpoints/vgg16-397923af.pth",
        sha256_prefix="397923af",
        used_by="LPIPS (VGG backbone)",
    ),
    "pieapp": PretrainedFile(
        url="https://github.com/photosynthesis-team/piq/releases/download/v0.5.4/PieAPPv0.1.pth",
        cache_path="hub/checkpoints/PieAPPv0.1.pth",
        sha256_prefix=None,
        used_by="PieAPP",
    ),
}


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
            "Run `gianet fetch-weights` (the workflow's fetch_weights rule) where there is "
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

    Uses :func:`gianet.fetch.download.download` (resumable, retried, atomic). A file whose
    sha256 prefix is published is checked against it before its digest is recorded; a file
    that does not match is moved to ``<file>.part`` and never left in the cache. Files already
    present are verified the same way, without network access.

    Args:
        torch_home: root of the torch cache (``TORCH_HOME``).
        names: entries of :data:`WEIGHTS`.
        checksum_file: where full digests are recorded on first download and verified
            afterwards (see :mod:`gianet.fetch.download`); the workflow passes a
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


#: The backbone file of each LPIPS backbone (``evaluate.lpips_backbone``).
LPIPS_BACKBONES: dict[str, str] = {"alex": "alexnet", "vgg": "vgg16"}


def metric_weights(metrics: Iterable[str], lpips_backbone: str = "alex") -> list[str]:
    """The entries of :data:`WEIGHTS` that ``metrics`` need: LPIPS its backbone's, PieAPP
    its own; PSNR and SSIM none."""
    needs = {"lpips": [LPIPS_BACKBONES[lpips_backbone]], "pieapp": ["pieapp"]}
    return [name for metric in metrics for name in needs.get(metric, [])]


def fetch_for_metrics(
    torch_home: Path,
    metrics: Iterable[str],
    *,
    lpips_backbone: str = "alex",
    checksum_file: Path | None = None,
) -> dict[str, DownloadResult]:
    """Fetch the weights that ``metrics`` need with LPIPS on ``lpips_backbone`` (see
    :func:`fetch_weights`)."""
    names = metric_weights(metrics, lpips_backbone)
    return fetch_weights(torch_home, names, checksum_file=checksum_file)


def write_status(status: Path) -> dict[str, str | None]:
    """Record which weights lie in the torch cache that holds ``status`` (its folder).

    The file is the fetch rule's output and evaluation's input: evaluation finds the cache
    through it (:func:`torch_home_of`), and reruns once the rule is forced after weights were
    copied in by hand.
    """
    found = {
        name: str(path) if path else None
        for name, path in weights_status(torch_home_of(status)).items()
    }
    atomic.write_json(status, found)
    return found


def torch_home_of(status: Path) -> Path:
    """The torch cache (``TORCH_HOME``) a status file describes: the folder holding it."""
    return Path(status).parent

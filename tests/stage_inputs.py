"""Small inputs for running whole stages (``gianet train``, ``evaluate``) in a test: a packed
cache of 24 x 32 frames, a small SID-Net checkpoint (healthy or with broken weights), and
the command lines a rule would give."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from gianet.models import build_model
from gianet.models.checkpoint import save_checkpoint
from tests.conftest import (
    REPO,
    SMALL_CHECKPOINT_META,
    noisy_clean_scenes,
    recipe,
    repo_params,
    write_packed_cache,
)


def tiny_cache(folder: Path) -> Path:
    """A cache with three training scenes and one validation and test scene, of 24 x 32
    packed pixels; returns its manifest."""
    scenes = noisy_clean_scenes(np.random.default_rng(1), 24, 32, shots=1, gt_suffix=".tif")
    scenes["test"] = scenes["val"]
    write_packed_cache(folder, scenes)
    return folder / "manifest.json"


@functools.cache
def _params_runtime() -> dict:
    """params.yaml's runtime section, read once (fuzz tests build hundreds of command lines)."""
    return yaml.safe_load((REPO / "params.yaml").read_text())["runtime"]


def runtime_json(**changes: object) -> str:
    """params.yaml's runtime section on the CPU, quiet, with ``changes``."""
    return json.dumps(_params_runtime() | {"progress": False, "device": "cpu"} | changes)


def cache_files(manifest: Path) -> list[str]:
    """The cache's dataset record (``record.tsv`` beside the manifest in these tests), as the
    rules hand it to train and evaluate."""
    return ["--record", str(manifest.parent / "record.tsv")]


def train_settings(**changes: object) -> str:
    """``gianet train``'s settings (JSON) for sid_net on Sony: params.yaml's train section for
    one epoch of 16-pixel patches, with ``changes`` to it; validation on every exposure."""
    trained = recipe("sid_net", **({"epochs": 1, "lr_decay_epoch": 0, "patch": 16} | changes))
    settings = {
        "camera": "Sony",
        "recipe": json.loads(trained.model_dump_json()),
        "validation": {"exposures": "all", "exclude_scenes": []},
    }
    return json.dumps(settings)


def train_argv(
    manifest: Path, out: Path, *, runtime: dict[str, object] | None = None, **changes: object
) -> list[str]:
    """``gianet train`` of sid_net on ``manifest`` for one epoch of 16-pixel patches, writing
    under ``out``; ``changes`` go into the train section, ``runtime`` into the runtime."""
    return ["train", "--manifest", str(manifest), *cache_files(manifest),
            "--model", str(out / "model.pt"), "--curves", str(out / "train" / "metrics.json"),
            "--settings", train_settings(**changes),
            "--runtime", runtime_json(**({"val_every": 1} | (runtime or {})))]  # fmt: skip


def small_checkpoint(path: Path, poison: float | None = None) -> Path:
    """A small Bayer SID-Net checkpoint; ``poison`` (NaN or an infinity) fills the bias of
    its last convolution, so that every output pixel is that value."""
    torch.manual_seed(0)
    model = build_model("unet", in_channels=4, upscale=2, **SMALL_CHECKPOINT_META["arch_args"])
    if poison is not None:
        last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        with torch.no_grad():
            last.bias.fill_(poison)
    save_checkpoint(path, model, SMALL_CHECKPOINT_META)
    return path


def evaluate_argv(model: Path, manifest: Path, out: Path) -> list[str]:
    """``gianet evaluate`` of ``model`` on ``manifest``'s test split, PSNR and SSIM, writing
    under ``out`` (a weights status without LPIPS or PieAPP files is made there too)."""
    status = out / "torch" / "status.json"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text('{"alexnet": null, "pieapp": null}')
    settings = {
        "dataset": "sid-synth",
        "camera": "Sony",
        "test": {"exposures": "all", "exclude_scenes": []},
        "metrics": ["psnr", "ssim"],
        "lpips_backbone": "alex",
        "samples": 1,
    }
    return ["evaluate", "--model", str(model), "--manifest", str(manifest),
            *cache_files(manifest), "--weights", str(status), "--csv", str(out / "metrics.csv"),
            "--summary", str(out / "summary.json"), "--samples", str(out / "samples"),
            "--settings", json.dumps(settings), "--runtime", runtime_json()]  # fmt: skip


def lists_of(root: Path, camera: str = "Sony") -> list[str]:
    """A camera's three split lists in ``root``, as the rules hand them (SID's names)."""
    return [str(root / f"{camera}_{split}_list.txt") for split in ("train", "val", "test")]


def synth_argv(root: Path, camera: str = "Sony", **synth: object) -> list[str]:
    """``gianet synth`` of params.yaml's synth section with ``synth`` changes, into ``root``."""
    section = repo_params().synth.model_dump() | synth
    settings = json.dumps({"camera": camera, "synth": section})
    return ["synth", "--lists", *lists_of(root, camera), "--record",
            str(root / f"{camera}_sources.tsv"), "--settings", settings,
            "--runtime", runtime_json()]  # fmt: skip


def pack_argv(root: Path, manifest: Path, camera: str = "Sony", levels: str = "sid") -> list[str]:
    """``gianet pack`` of the dataset in ``root`` (its lists and record) into ``manifest``."""
    settings = json.dumps({"camera": camera, "levels": levels})
    return ["pack", "--lists", *lists_of(root, camera), "--record",
            str(root / f"{camera}_sources.tsv"), "--manifest", str(manifest),
            "--settings", settings, "--runtime", runtime_json()]  # fmt: skip


def unpack_argv(root: Path, archive: Path | None, camera: str = "Sony") -> list[str]:
    """``gianet sid-unpack`` of ``archive`` (None: the data is in ``root``) into ``root``."""
    extracted = ["--archive", str(archive)] if archive is not None else []
    return ["sid-unpack", *extracted, "--lists", *lists_of(root, camera), "--record",
            str(root / f"{camera}_sources.tsv"), "--settings", json.dumps({"camera": camera}),
            "--runtime", runtime_json()]  # fmt: skip


def download_argv(url: str, out: Path, checksums: Path, **runtime: object) -> list[str]:
    """``gianet sid-download`` of ``url`` into ``out``, as its rule writes it."""
    settings = json.dumps({"camera": "Sony", "url": url, "sha256": None})
    return ["sid-download", "--archive", str(out), "--checksums", str(checksums),
            "--settings", settings, "--runtime", runtime_json(**runtime)]  # fmt: skip


def verify_argv(manifest: Path, record: Path, *, full: bool = False) -> list[str]:
    """``gianet verify-cache`` of the cache of ``manifest``, packed from ``record`` (it writes
    ``verified.json`` beside the manifest); ``full`` hashes every file."""
    return ["verify-cache", "--manifest", str(manifest), "--record", str(record),
            *(["--full"] if full else []), "--runtime", runtime_json()]  # fmt: skip


def cost_argv(out: Path) -> list[str]:
    """``gianet cost`` of params.yaml's cameras into ``out``."""
    from gianet.stages.report import CostJob

    settings = CostJob.from_params(repo_params()).model_dump_json()
    return ["cost", "--out", str(out), "--settings", settings]


def sid_archive(path: Path, size: int = 0, camera: str = "Sony") -> Path:
    """A zip at ``path`` holding every file SID's published ``camera`` lists name, each of
    ``size`` random bytes (stand-ins for raws: ``sid-unpack`` extracts, lists and records
    them, and decodes none), so that ``sid-unpack`` of it succeeds."""
    import os
    import zipfile

    from gianet.fetch.sid import packaged_files

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as bundle:
        for name in packaged_files(camera):
            bundle.writestr(name, os.urandom(size))
    return path

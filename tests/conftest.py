"""Shared fixtures: real camera raws and small packed caches.

Real raws come in two kinds:

- ``tests/data/colorchart.dng`` ships with the repository (MIT; see tests/data/README.md), and
  :func:`grbg_raw` derives a GRBG file from its real pixels, so every test that needs "a real
  Bayer raw" runs in every clone;
- a few more files that cannot be redistributed here (licence or size; listed in
  tests/data/README.md) are optional: the tests that need them skip unless the environment
  variable ``GIANET_REALRAW`` names a folder holding them. The summary at the end of a run
  counts those skips.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
#: A real Canon raw: RGGB, black 2056, white 15000, 1156 x 1734 visible (tests/data/README.md).
COLORCHART = DATA / "colorchart.dng"
#: The environment variable naming a folder with the optional raws of tests/data/README.md.
REALRAW_VARIABLE = "GIANET_REALRAW"
_OPTIONAL_SKIP = "optional real raw"
#: Exposure time written into :func:`grbg_raw` (the source records none).
GRBG_EXPOSURE = 1 / 250


#: A sid-synth configuration small enough to run the whole DAG in a test: frames of 132 (Sony)
#: and 88 (Fuji) packed pixels, so the crops (88 fixed, 84..88 multi-size) fit both and give
#: MS-SSIM (gia_net) outputs of at least 161 px.
TINY_CONFIG = {
    "cameras": ["Sony", "Fuji"],
    "variants": ["sid_net", "gia_net"],
    "synth": {"height": 264, "width": 264, "scenes": {"train": 2, "val": 1, "test": 2}},
    "train": {
        "epochs": 2,
        "lr_decay_epoch": 1,
        "patch": 88,
        "multi_size_a": 4,
        "multi_size_b": [21, 22],
    },
    "runtime": {"val_every": 1},
    "evaluate": {"samples": 1, "metrics": ["psnr", "ssim"]},
    "report": {"figure_variants": ["sid_net", "gia_net"]},
}


def tiny_config(**changes) -> dict:
    """:data:`TINY_CONFIG` with ``changes`` merged in, section by section."""
    from gianet.settings import deep_merge

    return deep_merge(TINY_CONFIG, changes)


def repo_params(*configfiles: str | Path, **changes):
    """The repository's params.yaml (with ``configfiles`` and then ``changes`` merged over it),
    validated: the one home of every setting's value, which tests change rather than restate."""
    from gianet.settings import deep_merge, read_yaml, validate_params

    merged = read_yaml(REPO / "params.yaml")
    for configfile in configfiles:
        merged = deep_merge(merged, read_yaml(Path(configfile)))
    return validate_params(deep_merge(merged, changes), "params.yaml (test changes)")


def runtime(**changes):
    """params.yaml's runtime section with ``changes`` (tests pass ``progress=False``)."""
    return repo_params().runtime.model_copy(update=changes)


def recipe(variant: str = "sid_net", seed: int = 0, **train_changes):
    """A training recipe of params.yaml's train section with ``train_changes``."""
    from gianet.settings.sections import Train
    from gianet.training.recipe import Recipe
    from gianet.variants import get_variant

    train = Train.model_validate(repo_params().train.model_dump() | train_changes)
    return Recipe.for_variant(get_variant(variant), train, seed)


#: The metadata of a small Bayer SID-Net checkpoint (4 base channels), as training writes it.
SMALL_CHECKPOINT_META = {
    "arch": "unet",
    "arch_args": {"base_channels": 4},
    "in_channels": 4,
    "upscale": 2,
    "cfa": "bayer",
    "camera": "Sony",
    "variant": "sid_net",
    # The recipe training records (train.width 4 gives base_channels 4): max_input 1.0.
    "recipe": '{"variant": "sid_net", "arch": "unet", "arch_args": {"base_channels": 4}, '
    '"width": 4, "crops": {"kind": "fixed", "patch": 96}, "loss": {"kind": "l1"}, "seed": 0, '
    '"epochs": 1, "lr": 0.0001, "lr_decay_epoch": 0, "lr_decay_factor": 0.1, "batch_size": 1, '
    '"max_input": 1.0, "shots": "first", "flips": "sid", "init": "sid", "precision": "float32"}',
}


def checkpoint_meta(**changes) -> dict:
    """:data:`SMALL_CHECKPOINT_META` with ``changes``: what training records besides the
    weights (arch, its arguments, CFA, camera, variant and the recipe's JSON)."""
    return SMALL_CHECKPOINT_META | changes


def optional_raw(name: str) -> Path:
    """A real raw from the ``GIANET_REALRAW`` folder; skips the test when it is not there."""
    folder = os.environ.get(REALRAW_VARIABLE)
    if not folder:
        pytest.skip(f"{_OPTIONAL_SKIP} {name}: set {REALRAW_VARIABLE} to a folder holding it")
    path = Path(folder) / name
    if not path.is_file():
        pytest.skip(f"{_OPTIONAL_SKIP} {name} is not in {REALRAW_VARIABLE}={folder}")
    return path


def pytest_terminal_summary(terminalreporter) -> None:
    """One line: how many tests skipped for want of optional raw files, and how to run them."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if _OPTIONAL_SKIP in str(report.longrepr)
    ]
    if skipped:
        tests = "1 test" if len(skipped) == 1 else f"{len(skipped)} tests"
        terminalreporter.write_line(
            f"{tests} skipped: optional real raw files absent; set "
            f"{REALRAW_VARIABLE}=/path/to/folder to run them (tests/data/README.md lists them)"
        )


@pytest.fixture(scope="session")
def grbg_raw(tmp_path_factory) -> Path:
    """A 512 x 768 GRBG DNG of colorchart.dng's real pixels, under a non-ASCII file name.

    The mosaic is colorchart's visible area from row 0 and column 1, so its top-left 2 x 2
    is G R / B G; its black (2056) and white (15000) levels are colorchart's, and it records
    an exposure time of :data:`GRBG_EXPOSURE`. The colour matrix is nominal (the source has
    none): the tests use the file for its CFA, levels, pixels and tags, not its colours.
    """
    import rawpy

    from gianet.synth.cameras import SONY_A7S2_XYZ_TO_CAMERA
    from gianet.synth.dng import RawMetadata, write_dng
    from gianet.synth.unprocess import as_shot_neutral

    with rawpy.imread(str(COLORCHART)) as raw:
        mosaic = np.array(raw.raw_image_visible[0:512, 1:769], dtype=np.uint16)
        red, green, blue, _ = raw.camera_whitebalance
    meta = RawMetadata(
        cfa_pattern=np.array([[1, 0], [2, 1]], dtype=np.uint8),
        black_level=2056,
        white_level=15000,
        xyz_to_camera=SONY_A7S2_XYZ_TO_CAMERA,
        as_shot_neutral=as_shot_neutral(np.array([red, green, blue]) / green),
        exposure_time=GRBG_EXPOSURE,
        iso=100,
        f_number=5.6,
        model="colorchart GRBG crop",
    )
    path = tmp_path_factory.mktemp("raw") / "colorchart_grbg_é.dng"
    write_dng(path, mosaic, meta)
    return path


def write_packed_cache(
    cache_dir: Path, scenes: dict[str, list[tuple[np.ndarray, np.ndarray, str, str]]]
) -> None:
    """Write a cache as `gianet pack` would, from arrays made by a test.

    Args:
        scenes: per split, tuples ``(packed (4,h,w) uint16, gt (3,2h,2w) uint16, short, long)``
            with SID-style file names for ``short`` and ``long``.
    """
    from gianet.data.lists import exposure_ratio, exposure_seconds

    entries, splits = {}, {}
    for split, items in scenes.items():
        splits[split] = []
        for packed, gt, short, long in items:
            for kind, name, array in (("input", short, packed), ("gt", long, gt)):
                folder = "inputs" if kind == "input" else "gt"
                rel = f"{folder}/{Path(name).name.rsplit('.', 1)[0]}.npy"
                (cache_dir / folder).mkdir(parents=True, exist_ok=True)
                np.save(cache_dir / rel, array)
                meta = {"source": name, "kind": kind, "array": rel, "shape": list(array.shape)}
                if kind == "input":
                    meta |= {
                        "cfa": "bayer",
                        "pattern": "RGGB",
                        "scale": [15871.0] * 4,
                        "white": 16383,
                        "offset": [0, 0],
                    }
                entries[name] = meta
            scene, shot, _ = exposure_seconds(short)
            splits[split].append(
                {
                    "short": short,
                    "long": long,
                    "scene": scene,
                    "shot": shot,
                    "ratio": exposure_ratio(short, long),
                    "iso": 100,
                }
            )
    # A dataset record beside it, as the workflow hands train and evaluate one (``record.tsv``;
    # its content is not checked against the arrays a test makes).
    record = cache_dir / "record.tsv"
    record.write_text("path\tbytes\tsha256\n")
    digest = hashlib.sha256(record.read_bytes()).hexdigest()
    manifest = {"root": "test", "record_sha256": digest, "entries": entries, "splits": splits}
    (cache_dir / "manifest.json").write_text(json.dumps(manifest))


def noisy_clean_scenes(
    rng: np.random.Generator, height: int, width: int, shots: int, gt_suffix: str
) -> dict[str, list[tuple[np.ndarray, np.ndarray, str, str]]]:
    """Three training scenes and one validation scene for :func:`write_packed_cache`.

    Each scene has a clean packed frame (4, height, width) uint16 in [0, 8000), a ground
    truth (3, 2 height, 2 width) made from it, and ``shots`` dark noisy inputs (clean / 100
    plus noise in [0, 20)), named SID-style with ``gt_suffix`` (".tif", ".dng") on the long
    exposure.
    """
    scenes: dict[str, list] = {"train": [], "val": []}
    for split, first_id in (("train", 1), ("val", 20001)):
        for scene in range(first_id, first_id + (3 if split == "train" else 1)):
            clean = rng.integers(0, 8000, size=(4, height, width)).astype(np.uint16)
            gt = np.repeat(np.repeat(clean[:3] * 4, 2, axis=1), 2, axis=2)
            for shot in range(shots):
                noisy = (clean // 100 + rng.integers(0, 20, clean.shape)).astype(np.uint16)
                names = (f"{scene:05d}_{shot:02d}_0.1s.dng", f"{scene:05d}_00_10s{gt_suffix}")
                scenes[split].append((noisy, gt, *names))
    return scenes


def paper_readings(variant: str = "gia_net") -> dict:
    """The training readings an evaluation records (:func:`gianet.training.recipe.readings`)
    for ``variant`` as configs/paper.yaml over params.yaml sets them."""
    from gianet.training.recipe import Recipe, readings
    from gianet.variants import get_variant

    train = repo_params(REPO / "configs" / "paper.yaml").train
    return readings(Recipe.for_variant(get_variant(variant), train, 0))


def report_settings(**changes):
    """The report's settings from params.yaml's ``report`` section with ``changes`` (keys of
    that section)."""
    from gianet.report.settings import ReportSettings
    from gianet.settings.sections import Report

    section = repo_params().report.model_dump() | changes
    return ReportSettings.of(Report.model_validate(section))


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """``ulimit -f`` for this process while the block runs (Python ignores SIGXFSZ, so a
    write past the limit fails with EFBIG instead of killing the process)."""
    assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

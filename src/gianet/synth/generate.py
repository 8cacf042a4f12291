"""sid-synth: write a small SID-shaped dataset of real DNG files, deterministic from a seed.

Layout and names are SID's, so SID's loader runs on it unchanged::

    root/Sony/long/00001_00_10s.dng           clean long exposure (10 s)
    root/Sony/short/00001_00_0.1s.dng          noisy short exposure (ratio 100)
    root/Sony_train_list.txt                   ./Sony/short/... ./Sony/long/... ISO800 F5.6

Scene ids start with the split digit (0 train, 1 test, 2 val). The ratio is read back from
the names as ``min(10 / t, 300)``: t = 0.1, 0.04, 0.033 s give 100, 250, 300. For the Fuji-like
camera the list's ground-truth column names a 16-bit RGB TIFF rendered like rawpy's
postprocess (LibRaw's default demosaic fails on X-Trans DNGs); the long DNG is written too.

Per scene, as in SID, one ISO (noise gain), one white balance and one aperture; every short
exposure is a fresh noise draw. Each scene has its own random stream, seeded by
``(seed, scene id)``, so a scene is the same whatever the other split sizes are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from gianet import atomic
from gianet.paths import list_name
from gianet.synth.cameras import SynthCamera, get_camera
from gianet.synth.dng import RawMetadata, encode_dng
from gianet.synth.files import encode_rgb16_tiff
from gianet.synth.noise import sample_noise_params, simulate_short_exposure
from gianet.synth.render import libraw_white_point, render_like_libraw
from gianet.synth.scenes import sample_scene
from gianet.synth.unprocess import (
    as_shot_neutral,
    mosaic,
    sample_white_balance_gains,
    srgb_to_camera_matrix,
    srgb_to_camera_raw,
)

LONG_EXPOSURE = "10"  # seconds, as written in SID's names
SHORT_EXPOSURE_BY_RATIO = {100: "0.1", 250: "0.04", 300: "0.033"}
SPLIT_DIGITS = {"train": 0, "test": 1, "val": 2}
MAX_SCENES_PER_SPLIT = 9999  # ids are five digits, the first one the split's
MAX_SHORTS_PER_SCENE = 100  # two-digit frame index
F_NUMBERS = (3.2, 4, 4.5, 5, 5.6, 6.3, 7.1, 8, 9, 10, 11, 13, 14, 16)  # as in SID's lists
# The long exposure maps the scene's 99th percentile to this fraction of the raw range
# (log-uniform): from a dim frame to one whose top percent clips at white.
EXPOSURE_LEVEL_RANGE = (0.4, 1.25)
EXPOSURE_PERCENTILE = 99


def _check_arguments(
    camera: SynthCamera,
    scenes: Mapping[str, int],
    height: int,
    width: int,
    ratios: Sequence[int],
    shorts_per_scene: int,
    seed: int,
) -> None:
    """ValueError naming the bad argument and how to fix it."""
    unknown = sorted(set(scenes) - set(SPLIT_DIGITS))
    if unknown:
        raise ValueError(
            f"scenes has unknown splits {unknown}; use keys from {sorted(SPLIT_DIGITS)}"
        )
    for split, count in scenes.items():
        if not 0 <= count <= MAX_SCENES_PER_SPLIT:
            raise ValueError(
                f"scenes[{split!r}]={count} must be in [0, {MAX_SCENES_PER_SPLIT}] (5-digit ids)"
            )
    period = camera.cfa_period
    for name, size in (("height", height), ("width", width)):
        if size <= 0 or size % period:
            raise ValueError(
                f"{name}={size} must be a positive multiple of the {camera.name} CFA period "
                f"{period}; use {max(period, size - size % period)}"
            )
    bad_ratios = [r for r in ratios if r not in SHORT_EXPOSURE_BY_RATIO]
    if bad_ratios or not ratios:
        raise ValueError(
            f"ratios={tuple(ratios)} must be a non-empty choice from "
            f"{tuple(SHORT_EXPOSURE_BY_RATIO)}: SID's names encode only these exposure ratios"
        )
    if not 1 <= shorts_per_scene <= MAX_SHORTS_PER_SCENE:
        raise ValueError(
            f"shorts_per_scene={shorts_per_scene} must be in [1, {MAX_SHORTS_PER_SCENE}] "
            "(two-digit frame index)"
        )
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0")


def _scene_names(camera: SynthCamera, scene_id: int, ratios: Sequence[int]) -> dict[str, Any]:
    """Relative paths (as in SID's lists, starting with ./) of one scene's files."""
    stem = f"{scene_id:05d}"
    gt_suffix = "tif" if camera.ground_truth_is_image else "dng"
    return {
        "long": f"./{camera.name}/long/{stem}_00_{LONG_EXPOSURE}s.dng",
        "ground_truth": f"./{camera.name}/long/{stem}_00_{LONG_EXPOSURE}s.{gt_suffix}",
        "shorts": [
            f"./{camera.name}/short/{stem}_{k:02d}_{SHORT_EXPOSURE_BY_RATIO[ratio]}s.dng"
            for k, ratio in enumerate(ratios)
        ],
    }


def _write_scene(
    root: Path,
    camera: SynthCamera,
    scene_id: int,
    short_ratios: Sequence[int],
    height: int,
    width: int,
    seed: int,
) -> dict[str, Any]:
    """Write one scene's long exposure, ground truth and short exposures; return its record."""
    rng = np.random.default_rng([seed, scene_id])
    srgb, source = sample_scene(rng, height, width)
    gains = sample_white_balance_gains(rng)
    noise = sample_noise_params(rng)
    f_number = F_NUMBERS[rng.integers(len(F_NUMBERS))]
    level = np.exp(rng.uniform(*np.log(EXPOSURE_LEVEL_RANGE)))

    camera_raw = srgb_to_camera_raw(srgb, camera.xyz_to_camera, gains)
    clean = mosaic(camera_raw, camera.cfa_pattern)
    raw_range = camera.white_level - camera.black_level
    scale = level * raw_range / max(float(np.percentile(clean, EXPOSURE_PERCENTILE)), 1e-3)
    clean_dn = clean * np.float32(scale)
    long = np.clip(np.round(clean_dn) + camera.black_level, 0, camera.white_level)
    long = long.astype(np.uint16)

    names = _scene_names(camera, scene_id, short_ratios)
    hashes: dict[str, str] = {}

    def save(relative: str, content: bytes) -> None:
        atomic.write_bytes(root / relative, content)
        hashes[relative[2:]] = hashlib.sha256(content).hexdigest()

    def metadata(exposure_time: str) -> RawMetadata:
        return RawMetadata(
            cfa_pattern=camera.cfa_pattern,
            black_level=camera.black_level,
            white_level=camera.white_level,
            xyz_to_camera=camera.xyz_to_camera,
            as_shot_neutral=as_shot_neutral(gains),
            exposure_time=float(exposure_time),
            iso=noise.iso,
            f_number=f_number,
            model=camera.model,
        )

    save(names["long"], encode_dng(long, metadata(LONG_EXPOSURE)))
    if camera.ground_truth_is_image:
        white_point = libraw_white_point(long, camera.black_level, camera.white_level)
        srgb_to_camera = srgb_to_camera_matrix(camera.xyz_to_camera)
        rendered = render_like_libraw(camera_raw * (scale / white_point), gains, srgb_to_camera)
        save(names["ground_truth"], encode_rgb16_tiff(rendered))
    for name, ratio in zip(names["shorts"], short_ratios, strict=True):
        short = simulate_short_exposure(
            clean_dn, ratio, noise, rng, camera.black_level, camera.white_level
        )
        save(name, encode_dng(short, metadata(SHORT_EXPOSURE_BY_RATIO[ratio])))

    return {
        "id": f"{scene_id:05d}",
        "source": source,
        "iso": noise.iso,
        "system_gain": noise.system_gain,
        "read_sigma": noise.read_sigma,
        "row_sigma": noise.row_sigma,
        "white_balance_gains": gains.tolist(),
        "f_number": f_number,
        "exposure_scale": scale,
        "list_rows": [
            f"{name} {names['ground_truth']} ISO{noise.iso} F{f_number:g}"
            for name in names["shorts"]
        ],
        "ratios": list(short_ratios),
        "files": hashes,
    }


def write_manifest(root: Path | str, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest`` as ``root/<camera>_synth_manifest.json`` (sorted keys); its path."""
    path = Path(root) / f"{manifest['camera']}_synth_manifest.json"
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    atomic.write_text(path, text)
    return path


def generate_dataset(
    root: Path | str,
    camera: str = "Sony",
    *,
    scenes: Mapping[str, int],
    height: int,
    width: int,
    ratios: Sequence[int] = (100, 250, 300),
    shorts_per_scene: int,
    seed: int,
    progress: bool = True,
) -> dict[str, Any]:
    """Write a sid-synth dataset under ``root`` and return its manifest.

    Args:
        root: dataset root; gets ``<camera>/long``, ``<camera>/short``, the three
            ``<camera>_{train,val,test}_list.txt`` and ``<camera>_synth_manifest.json``.
        camera: "Sony" (Bayer RGGB, black 512) or "Fuji" (X-Trans, black 1024).
        scenes: scenes per split, e.g. ``{"train": 12, "val": 2, "test": 4}``; a missing
            split gets an empty list.
        height, width: raw frame size in pixels, multiples of the CFA period (2 or 6).
        ratios: exposure ratios to use, from (100, 250, 300); short k of the scene with
            number n (from 1) uses ``ratios[(n - 1 + k) % len(ratios)]``.
        shorts_per_scene: short exposures per scene.
        seed: same seed and arguments -> byte-identical files.
        progress: show a tqdm bar over scenes.

    Returns:
        The manifest: arguments, list paths, one record per scene (source image, noise
        parameters, white balance, exposure) and the sha256 of every file written.
    """
    synth_camera = get_camera(camera)
    _check_arguments(synth_camera, scenes, height, width, ratios, shorts_per_scene, seed)
    root = Path(root)
    jobs = [
        (split, number) for split in SPLIT_DIGITS for number in range(1, scenes.get(split, 0) + 1)
    ]
    records: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLIT_DIGITS}
    for split, number in tqdm(jobs, desc=f"sid-synth {camera}", unit="scene", disable=not progress):
        short_ratios = [ratios[(number - 1 + k) % len(ratios)] for k in range(shorts_per_scene)]
        scene_id = SPLIT_DIGITS[split] * 10000 + number
        records[split].append(
            _write_scene(root, synth_camera, scene_id, short_ratios, height, width, seed)
        )

    lists = {}
    for split, split_records in records.items():
        relative = list_name(camera, split)
        rows = [row for record in split_records for row in record["list_rows"]]
        atomic.write_text(root / relative, "".join(f"{row}\n" for row in rows))
        lists[split] = relative

    manifest = {
        "camera": camera,
        "seed": seed,
        "height": height,
        "width": width,
        "ratios": list(ratios),
        "shorts_per_scene": shorts_per_scene,
        "scenes": records,
        "lists": lists,
    }
    write_manifest(root, manifest)
    return manifest

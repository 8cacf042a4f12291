"""Evaluated runs as the evaluation and training write them, for the report's tests.

:func:`write_run` writes one (camera, variant, seed)'s ``summary.json``, per-image
``metrics.csv`` (values from a seeded generator, the summary's means computed from them),
sample PNGs (textured frames; each variant's output departs from the ground truth most in its
own patch, so that crops have something to find) and dvclive curves.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd

from gianet.paths import sample_names
from gianet.report.build import build_report
from gianet.report.outputs import report_outputs
from gianet.report.runs import Run, image_stem

HEIGHT, WIDTH = 60, 90
#: Per variant: PSNR offset (dB) and the patch (top, left) where its output errs most.
VARIANT_OFFSETS = {
    "sid_net": (0.0, (30, 10)),
    "gia_net": (1.0, (5, 60)),
    "gia_l1": (0.7, (5, 60)),
    "sid_net_deeper": (0.2, (30, 10)),
    "dncnn": (-1.5, (30, 40)),
}
COSTS = [
    {
        "variant": name,
        "camera": camera,
        "input_shape": shape,
        "params": params,
        "flops": flops,
        "params_ratio": params / 7_760_268,
        "flops_ratio": flops / 1_110_601_760_768,
    }
    for name, params, flops in (
        ("sid_net", 7_760_268, 1_110_601_760_768),
        ("gia_net", 8_285_068, 1_119_914_000_000),
    )
    for camera, shape in (("Sony", "4x1416x2120"), ("Fuji", "9x1344x2010"))
]


def image_files(camera: str, n_images: int) -> list[str]:
    """Test images as SID's lists name them: scenes of two shots each."""
    suffix = "ARW" if camera == "Sony" else "RAF"
    return [
        f"{camera}/short/{10003 + i // 2:05d}_{i % 2:02d}_0.{i + 1}s.{suffix}"
        for i in range(n_images)
    ]


def truth_image(camera: str, stem: str) -> np.ndarray:
    """A textured ground truth: gradients plus seeded noise, (H, W, 3) uint8."""
    rng = np.random.default_rng(zlib.crc32(f"{camera}/{stem}".encode()))
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([x * 2.5, y * 3.5, (x + y) * 1.5], axis=-1) + rng.normal(
        0, 12, (HEIGHT, WIDTH, 3)
    )
    return np.clip(base + 30, 0, 255).astype(np.uint8)


def write_run(
    root: Path,
    camera: str,
    variant: str,
    *,
    seed: int | None = None,
    n_images: int = 6,
    metrics: tuple[str, ...] = ("psnr", "ssim"),
    unavailable: dict[str, str] | None = None,
    samples: int = 2,
    dataset: str = "sid-synth",
    protocol: dict | None = None,
) -> Run:
    """Write one run's files under ``root/<camera>/<variant>[/seed<k>]`` and return it."""
    folder = root / camera / variant / (f"seed{seed}" if seed is not None else "")
    folder.mkdir(parents=True, exist_ok=True)
    offset, (top, left) = VARIANT_OFFSETS.get(variant, (0.3, (20, 20)))
    rng = np.random.default_rng([zlib.crc32(f"{camera}/{variant}".encode()), seed or 0])
    files = image_files(camera, n_images)
    rows = pd.DataFrame(
        {
            "file": files,
            "gt_file": [f.replace("short", "long") for f in files],
            "scene": [10003 + i // 2 for i in range(n_images)],
            "shot": [i % 2 for i in range(n_images)],
            "ratio": [100 if i % 2 == 0 else 300 for i in range(n_images)],
            "iso": 100,
        }
    )
    base = 25.0 + np.linspace(0, 3, n_images)
    if "psnr" in metrics:
        rows["psnr"] = base + offset + rng.normal(0, 0.3, n_images)
    if "ssim" in metrics:
        rows["ssim"] = 0.7 + 0.01 * offset + rng.normal(0, 0.01, n_images)
    if "lpips" in metrics:
        rows["lpips"] = 0.4 - 0.01 * offset + rng.normal(0, 0.01, n_images)
    rows["seconds"] = 0.1
    csv_path = folder / "metrics.csv"
    csv_path.write_text(rows.to_csv(index=False, float_format="%.8g"))
    written = pd.read_csv(csv_path)  # the summary's means are of the rows as written
    sample_dir = folder / "samples"
    sample_dir.mkdir(exist_ok=True)
    stems = [image_stem(f) for f in files[:samples]]
    for stem in stems:
        names = sample_names(stem)
        truth = truth_image(camera, stem)
        output = truth.astype(int) + rng.normal(0, 4, truth.shape)
        output[top : top + 20, left : left + 20] += 60
        shown = truth.astype(int) // 4
        iio.imwrite(sample_dir / names["gt"], truth)
        iio.imwrite(sample_dir / names["output"], np.clip(output, 0, 255).astype(np.uint8))
        iio.imwrite(sample_dir / names["input"], np.clip(shown, 0, 255).astype(np.uint8))
    summary = {
        "dataset": dataset,
        "camera": camera,
        "variant": variant,
        "seed": seed,
        "n_images": n_images,
        **{
            m: (float(written[m].mean()) if m in written else None)
            for m in ("psnr", "ssim", "lpips", "pieapp")
        },
        "seconds_per_image": 0.1,
        "unavailable": unavailable or {},
        "samples": stems,
        "samples_dir": "samples",
        "protocol": protocol,
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    log = folder / "train"
    for relative, column in (("train/loss.tsv", "loss"), ("val/psnr.tsv", "psnr")):
        path = log / "plots" / "metrics" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        values = np.linspace(0.1, 0.05, 4) if column == "loss" else np.linspace(20, 24, 4) + offset
        pd.DataFrame({"step": range(4), column: values}).to_csv(path, sep="\t", index=False)
    (log / "metrics.json").write_text("{}")
    return Run(camera, variant, folder / "summary.json", csv_path, log / "metrics.json", seed)


def write_runs(
    root: Path, cameras=("Sony", "Fuji"), variants=("sid_net", "gia_net"), **options
) -> list[Run]:
    return [write_run(root, c, v, **options) for c in cameras for v in variants]


def write_costs(path: Path) -> Path:
    path.write_text(json.dumps(COSTS))
    return path


def outputs_in(
    folder: Path, cameras=("Sony", "Fuji"), first_shot_tables: bool = True, pdf: bool = False
) -> dict[str, Path]:
    return report_outputs(
        folder / "report", list(cameras), first_shot_tables=first_shot_tables, pdf=pdf, top=folder
    )


def build_synth_report(root: Path, runs: list[Run], settings, **options):
    """The report of ``runs`` on sid-synth's two cameras, written under ``root`` (outputs as
    :func:`outputs_in` with ``options``): ``(outputs, report)``."""
    outputs = outputs_in(root, first_shot_tables=settings.first_shot_tables, **options)
    report = build_report(
        runs,
        dataset="sid-synth",
        cameras=["Sony", "Fuji"],
        costs=write_costs(root / "cost.json"),
        outputs=outputs,
        settings=settings,
    )
    return outputs, report

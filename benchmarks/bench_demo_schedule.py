"""The demo's schedule judged on a finished run: every run's plateau, its gain over the input.

Reads a finished workflow's results (by default the demo's, `make demo`) and prints, per
camera and variant, the validation PSNR's gain over the last fifth of the epochs against the
fifth before (the plateau criterion of gianet/report/plateau.py: < 0.2 dB), the last
validation PSNR, the mean test PSNR, the brightened input's mean test PSNR and the gain over
it, and the training's wall time (Snakemake's benchmark files). The schedule in params.yaml
is chosen by this criterion alone (benchmarks/README.md, "The demo's schedule").

    PYTHONPATH=src python benchmarks/bench_demo_schedule.py            # in the run's folder
    PYTHONPATH=src python benchmarks/bench_demo_schedule.py --workdir /path/to/run \\
        --configfile extra.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from gianet import paths
from gianet.report.curves import read_curves
from gianet.report.plateau import FRACTION, TOLERANCE_DB, plateau
from gianet.settings import load_params

REPO = Path(__file__).resolve().parents[1]


def seconds_of(benchmark: Path) -> float | None:
    """A job's wall seconds from its Snakemake benchmark file (its last run)."""
    if not benchmark.exists():
        return None
    return float(pd.read_csv(benchmark, sep="\t")["s"].iloc[-1])


def judge(workdir: Path, params) -> list[dict]:
    """One row per (camera, variant, seed) of the configuration."""
    rows = []
    for camera in params.cameras:
        for variant in params.variants:
            for seed in params.train.seeds:
                summary_path = workdir / paths.summary_file(params, camera, variant, seed)
                curves = workdir / paths.train_curves(params, camera, variant, seed)
                series = read_curves(paths.log_dir_of_curves(curves)).get("psnr")
                summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
                judged = None
                if series is not None:
                    judged = plateau(
                        series["step"].to_numpy(), series["psnr"].to_numpy(), params.train.epochs
                    )
                bench = workdir / "logs" / params.dataset / "benchmarks"
                rows.append(
                    {
                        "camera": camera,
                        "variant": variant,
                        "seed": seed,
                        "gain_db": None if judged is None else judged.gain_db,
                        "plateau": None if judged is None else judged.reached,
                        "last_val": None if series is None else float(series["psnr"].iloc[-1]),
                        "test_psnr": summary.get("psnr"),
                        "input_psnr": summary.get("input_psnr"),
                        "train_s": seconds_of(bench / f"train_{camera}_{variant}_seed{seed}.tsv"),
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path.cwd(), help="the run's folder")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--configfile", type=Path, nargs="*", default=[])
    args = parser.parse_args(argv)
    params = load_params(args.params, args.configfile)
    table = pd.DataFrame(judge(args.workdir, params))
    table["over_input"] = table["test_psnr"] - table["input_psnr"]
    train = params.train
    print(
        f"schedule: width {train.width}, {train.epochs} epochs (lr {train.lr}, x"
        f"{train.lr_decay_factor} from epoch {train.lr_decay_epoch}), patch {train.patch}, "
        f"{params.synth.scenes.train} training scenes; plateau: the last {FRACTION:.0%} of the "
        f"epochs gain < {TOLERANCE_DB} dB over the {FRACTION:.0%} before"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    judged = table.dropna(subset=["plateau"])
    print(
        f"plateau reached: {int(judged['plateau'].sum())} of {len(table)} runs; largest gain "
        f"{judged['gain_db'].max():.2f} dB; training time summed over runs "
        f"{table['train_s'].sum() / 60:.1f} min"
    )
    for camera, rows in table.groupby("camera"):
        sid = rows[rows["variant"] == "sid_net"]
        if len(sid):
            print(
                f"{camera}: SID-Net {sid['test_psnr'].mean():.2f} dB, brightened input "
                f"{sid['input_psnr'].mean():.2f} dB: {sid['over_input'].mean():+.2f} dB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

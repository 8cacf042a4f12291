"""Where every stage reads and writes, derived from params.yaml in one place.

Snakemake's rules and the command line both call these functions, so a path is never spelled
twice. Everything a run produces is keyed by dataset, camera and variant::

    data/sid-synth/Sony_train_list.txt          the dataset (SID layout)
    cache/sid-synth/Sony/manifest.json          packed arrays
    models/sid-synth/Sony/gia_net/model.pt      trained weights
    results/sid-synth/Sony/gia_net/metrics.csv  per-image metrics (+ summary.json, samples/)
    report/sid-synth/                           LaTeX tables and figures
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "val", "test")


def dataset_root(params: dict) -> Path:
    """The dataset folder: generated sid-synth, or the real SID (``sid.root`` when set)."""
    if params["dataset"] == "sid" and params["sid"]["root"]:
        return Path(params["sid"]["root"])
    return Path(params["paths"]["data"]) / params["dataset"]


def list_file(params: dict, camera: str, split: str) -> Path:
    """SID's split list, e.g. ``data/sid-synth/Sony_train_list.txt``."""
    return dataset_root(params) / f"{camera}_{split}_list.txt"


def cache_dir(params: dict, camera: str) -> Path:
    return Path(params["paths"]["cache"]) / params["dataset"] / camera


def manifest(params: dict, camera: str) -> Path:
    return cache_dir(params, camera) / "manifest.json"


def model_dir(params: dict, camera: str, variant: str) -> Path:
    return Path(params["paths"]["models"]) / params["dataset"] / camera / variant


def model_file(params: dict, camera: str, variant: str) -> Path:
    return model_dir(params, camera, variant) / "model.pt"


def camera_results_dir(params: dict, camera: str) -> Path:
    """Results of every variant on one camera: ``results/{dataset}/{camera}``."""
    return Path(params["paths"]["results"]) / params["dataset"] / camera


def results_dir(params: dict, camera: str, variant: str) -> Path:
    return camera_results_dir(params, camera) / variant


def train_log_dir(params: dict, camera: str, variant: str) -> Path:
    """dvclive folder of a training run."""
    return results_dir(params, camera, variant) / "train"


def summary_file(params: dict, camera: str, variant: str) -> Path:
    return results_dir(params, camera, variant) / "summary.json"


def report_dir(params: dict) -> Path:
    return Path(params["paths"]["report"]) / params["dataset"]

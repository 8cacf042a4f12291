"""Where every stage reads and writes: the one home of gianet's file names.

The Snakefile builds its rules' ``input:`` and ``output:`` from the functions below, and the
stage commands receive those paths as arguments; the few names a stage derives itself (the
files inside a folder it was handed) are the constants here, so no name is spelled twice.
Everything a run produces is keyed by dataset, camera and variant::

    data/sid-synth/Sony_train_list.txt                   the dataset (SID layout)
    data/sid-synth/Sony_sources.tsv                      its record (every file's sha256)
    cache/sid-synth/Sony/manifest.json                   packed arrays (+ inputs/, gt/)
    cache/sid-synth/Sony/verified.json                   what was verified, when (not versioned)
    models/sid-synth/Sony/gia_net/seed0/model.pt         weights (+ train_state.pt, history)
    results/sid-synth/Sony/gia_net/seed0/metrics.csv     one row per test image
    results/sid-synth/Sony/gia_net/seed0/summary.json    means of the run
    results/sid-synth/Sony/gia_net/seed0/samples/        PNGs for the figure grid
    results/sid-synth/Sony/gia_net/seed0/train/metrics.json  dvclive curves (+ plots/metrics/)
    models/sid/Sony/sid_released/model.pt                SID's released weights, imported
    results/sid/Sony/sid_released/first/summary.json     ... evaluated under a test protocol
    report/sid-synth/tables.tex                          tables, figures, curves, costs
    metrics.json, curves/*.tsv                           headline numbers, curves (DVC)

Functions take the validated configuration (:class:`gianet.settings.Params`) and return
paths that may hold Snakemake wildcards (``camera="{camera}"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gianet.archive_names import archive_suffix

if TYPE_CHECKING:
    from gianet.settings import Params

SPLITS = ("train", "val", "test")

#: Files inside the folders above, named here once.
MANIFEST = "manifest.json"
VERIFIED = "verified.json"
MODEL = "model.pt"
TRAIN_STATE = "train_state.pt"
TRAIN_HISTORY = "train_history.log"
METRICS_CSV = "metrics.csv"
SUMMARY = "summary.json"
SAMPLES = "samples"
TRAIN_LOG = "train"
DVCLIVE_METRICS = "metrics.json"
TABLES = "tables.tex"
TABLES_HTML = "tables.html"
COSTS = "cost.json"
WEIGHTS_STATUS = "status.json"
#: The run's headline numbers at the top of the working directory, declared as DVC metrics.
HEADLINE_METRICS = "metrics.json"
#: The run's training curves, every (camera, variant) in one table per series: DVC's plots.
CURVE_TABLES = {"loss": "curves/train_loss.tsv", "psnr": "curves/val_psnr.tsv"}


def list_name(camera: str, split: str) -> str:
    """SID's name of a split list, ``Sony_train_list.txt``."""
    return f"{camera}_{split}_list.txt"


def figure_name(camera: str) -> str:
    """The figure grid of a camera: input, chosen variants, ground truth."""
    return f"figure_{camera}.png"


def curves_name(camera: str) -> str:
    """The training curves of every variant of a camera."""
    return f"curves_{camera}.png"


def sample_names(stem: str) -> dict[str, str]:
    """The three PNGs evaluation saves for a test image ``stem`` (its short file's stem)."""
    return {kind: f"{stem}_{kind}.png" for kind in ("input", "output", "gt")}


def dataset_root(params: Params) -> Path:
    """The dataset folder: generated sid-synth, or the real SID (``sid.root`` when set)."""
    if params.dataset == "sid" and params.sid.root:
        return Path(params.sid.root)
    return Path(params.paths.data) / params.dataset


def record_name(camera: str) -> str:
    """The dataset record of a camera, beside its split lists (:mod:`gianet.data.sources`)."""
    return f"{camera}_sources.tsv"


def record_file(params: Params, camera: str) -> Path:
    return dataset_root(params) / record_name(camera)


def archive_path(params: Params, camera: str) -> Path:
    """The camera's SID archive: the user's own (``sid.archives.<camera>.path``) or where the
    download puts it, ``data/sid/archives/<camera>.zip`` (suffix from the URL)."""
    source = params.sid.archives[camera]
    if source.path:
        return Path(source.path)
    return download_path(params, camera, archive_suffix(source.url))


def download_path(params: Params, camera: str, suffix: str) -> Path:
    """Where ``sid-download`` writes a camera's archive (``suffix`` may be a wildcard)."""
    return Path(params.paths.data) / "sid" / "archives" / f"{camera}{suffix}"


def list_file(params: Params, camera: str, split: str) -> Path:
    """SID's split list, e.g. ``data/sid-synth/Sony_train_list.txt``."""
    return dataset_root(params) / list_name(camera, split)


def list_files(params: Params, camera: str) -> list[Path]:
    """The camera's three split lists, in :data:`SPLITS` order."""
    return [list_file(params, camera, split) for split in SPLITS]


def cache_dir(params: Params, camera: str) -> Path:
    return Path(params.paths.cache) / params.dataset / camera


def manifest(params: Params, camera: str) -> Path:
    return cache_dir(params, camera) / MANIFEST


def run_name(variant: str, seed: int | str) -> str:
    """A training run's folder: the variant, then the seed (``gia_net/seed0``)."""
    return f"{variant}/seed{seed}"


def model_dir(params: Params, camera: str, variant: str, seed: int | str) -> Path:
    return Path(params.paths.models) / params.dataset / camera / run_name(variant, seed)


def model_file(params: Params, camera: str, variant: str, seed: int | str) -> Path:
    return model_dir(params, camera, variant, seed) / MODEL


def state_file(model_path: str | Path) -> Path:
    """The resumable training state kept beside the final weights."""
    return Path(model_path).with_name(TRAIN_STATE)


def history_file(model_path: str | Path) -> Path:
    """Starts, interruptions and ends of a model's training, beside its weights; no rule's
    output, so no rerun erases it."""
    return Path(model_path).with_name(TRAIN_HISTORY)


def results_dir(params: Params, camera: str, variant: str, seed: int | str) -> Path:
    return Path(params.paths.results) / params.dataset / camera / run_name(variant, seed)


def metrics_csv(params: Params, camera: str, variant: str, seed: int | str) -> Path:
    return results_dir(params, camera, variant, seed) / METRICS_CSV


def summary_file(params: Params, camera: str, variant: str, seed: int | str) -> Path:
    return results_dir(params, camera, variant, seed) / SUMMARY


def samples_dir(params: Params, camera: str, variant: str, seed: int | str) -> Path:
    return results_dir(params, camera, variant, seed) / SAMPLES


#: The folder of SID's released weights, in place of a variant's ``<variant>/seed<N>``.
RELEASED = "sid_released"


def released_model_file(params: Params, camera: str) -> Path:
    """SID's released weights for ``camera``, imported (``gianet import-sid``)."""
    return Path(params.paths.models) / params.dataset / camera / RELEASED / MODEL


def released_results_dir(params: Params, camera: str, protocol: str) -> Path:
    """The evaluation of SID's released weights under one test protocol
    (:data:`gianet.stages.released.PROTOCOLS`): ``metrics.csv``, ``summary.json``,
    ``samples/`` inside."""
    return Path(params.paths.results) / params.dataset / camera / RELEASED / protocol


def train_curves(params: Params, camera: str, variant: str, seed: int | str) -> Path:
    """The file dvclive rewrites after every epoch: the training job's tracked output, in its
    log folder ``train/``."""
    return results_dir(params, camera, variant, seed) / TRAIN_LOG / DVCLIVE_METRICS


def log_dir_of_curves(curves: str | Path) -> Path:
    """The dvclive folder whose :data:`DVCLIVE_METRICS` file is ``curves``."""
    curves = Path(curves)
    if curves.name != DVCLIVE_METRICS:
        raise ValueError(f"{curves}: expected dvclive's {DVCLIVE_METRICS} inside a log folder")
    return curves.parent


def report_dir(params: Params) -> Path:
    return Path(params.paths.report) / params.dataset


def weights_dir(params: Params) -> Path:
    """TORCH_HOME of the LPIPS and PieAPP weights (``hub/checkpoints/`` inside)."""
    return Path(params.paths.weights)


def weights_status(params: Params) -> Path:
    return weights_dir(params) / WEIGHTS_STATUS


# --- The report's files ----------------------------------------------------------------
# Inside report/<dataset>/ besides TABLES, TABLES_HTML, figure_name and curves_name above;
# gianet.report.outputs.report_outputs lists every file the report writes.
TABLES_CSV = "tables.csv"
TABLES_JSON = "tables.json"
COMPARISONS_CSV = "comparisons.csv"
REPORT_TEX = "report.tex"
REPORT_PDF = "report.pdf"
#: Every variant's metrics per test image, at the top like CURVE_TABLES (DVC's plots).
PER_IMAGE_TABLE = "curves/test_per_image.tsv"


#: The table of SID's released weights beside their published scores (its LaTeX file).
RELEASED_TABLE = "table_released"
#: The same table alone, made before any training (``gianet report-released``).
RELEASED_REPORT = {
    "tex": "released_weights.tex",
    "html": "released_weights.html",
    "csv": "released_weights.csv",
}


def table_file_name(key: str) -> str:
    """One table's LaTeX: ``table1.tex``, ``table1_first.tex``, ``table4_cost.tex``."""
    return f"{key}.tex"


def scatter_name(camera: str) -> str:
    """Per test image of a camera, GIA-Net's PSNR against SID-Net's."""
    return f"scatter_{camera}.png"

"""Shared helpers: the validated configuration, every path (from gianet.paths) and what the
rules take from the stage declarations (gianet.stages).

Each rule names its files as its stage's parameters, hands its job exactly the settings the
job's results depend on (``params: settings=``, the stage's settings view as JSON) and gets
its shell command from the stage's declaration (``shell_command``). The ``runtime`` section
(threads, device, loader processes, checkpoint cadence, download timeout and retries)
reaches jobs as a resource, which Snakemake never treats as a reason to rerun.

What decides a rerun: a job runs when an output is missing or when its settings changed.
Between rules every file is compared by content (the workflow profile raises Snakemake's
checksum limit above the largest model): an input newer than an output whose content is the
one the output was made from reruns nothing. So outputs that DVC puts back in another order
of modification times (``dvc pull``, ``dvc checkout``) cost nothing, while a changed
dataset, setting or result reruns everything downstream of it. DVC versions Snakemake's
record of what made each output (``.snakemake/metadata``) with the outputs, so a fresh clone
judges them the same way (docs/architecture.md, "Snakemake and DVC").

The packed cache's arrays are not inputs of any rule: the jobs that read them check each one
and rebuild a damaged or missing one first (gianet/data/verify.py), so a clone that has the
cache's manifest (versioned) but not its arrays rebuilds them where they are read.

Reading this file changes nothing: no job is run and no file written while the DAG is built.
"""

from pathlib import Path

from gianet import paths
from gianet.archive_names import ARCHIVE_SUFFIXES
from gianet.report.document import latex_engine
from gianet.report.outputs import released_outputs, report_outputs
from gianet.settings import validate_params
from gianet.stages.dvc import record_outputs
from gianet.stages.data import ArchiveJob, CameraJob, PackJob, SynthJob
from gianet.stages.models import EvaluateJob, TrainJob, WeightsJob
from gianet.stages.released import (
    PROTOCOLS,
    ImportJob,
    ReleasedEvaluateJob,
    checkpoint_files,
    protocols,
    released_cameras,
)
from gianet.stages.report import CostJob, ReleasedReportJob, ReportJob
from gianet.stages.snakemake import runtime_of, settings_of, shell_command

PARAMS = validate_params(config, source="params.yaml (with any --configfile/--config overrides)")

DATASET = PARAMS.dataset
CAMERAS = PARAMS.cameras
VARIANTS = PARAMS.variants
SEEDS = PARAMS.train.seeds

LISTS = [str(path) for path in paths.list_files(PARAMS, "{camera}")]
RECORD = str(paths.record_file(PARAMS, "{camera}"))
MANIFEST = str(paths.manifest(PARAMS, "{camera}"))
MODEL = str(paths.model_file(PARAMS, "{camera}", "{variant}", "{seed}"))
CURVES = str(paths.train_curves(PARAMS, "{camera}", "{variant}", "{seed}"))
METRICS_CSV = str(paths.metrics_csv(PARAMS, "{camera}", "{variant}", "{seed}"))
SUMMARY = str(paths.summary_file(PARAMS, "{camera}", "{variant}", "{seed}"))
SAMPLES = str(paths.samples_dir(PARAMS, "{camera}", "{variant}", "{seed}"))
# SID's released weights (sid.released_models; released.smk): none when it is null, and
# then nothing of them in the DAG.
RELEASED_MODEL = str(paths.released_model_file(PARAMS, "{camera}"))
RELEASED_DIR = paths.released_results_dir(PARAMS, "{camera}", "{protocol}")
RELEASED_SUMMARIES = [
    str(paths.released_results_dir(PARAMS, camera, protocol) / paths.SUMMARY)
    for camera in released_cameras(PARAMS)
    for protocol in protocols(PARAMS, camera)
]
REPORT = paths.report_dir(PARAMS)
COSTS = str(REPORT / paths.COSTS)
# Every file the report writes, by name (gianet.report.outputs).
REPORT_FILES = {
    name: str(path)
    for name, path in report_outputs(
        REPORT,
        CAMERAS,
        first_shot_tables=PARAMS.report.first_shot_tables,
        released=bool(RELEASED_SUMMARIES),
    ).items()
}
REPORT_PDF = str(REPORT / paths.REPORT_PDF)
# The PDF is made where a LaTeX engine is on PATH (README: the PDF report).
LATEX = latex_engine() is not None
WEIGHTS_STATUS = str(paths.weights_status(PARAMS))
SID_DOWNLOAD = str(paths.download_path(PARAMS, "{camera}", "{suffix}"))
LOGS = f"logs/{DATASET}"
BENCHMARKS = f"{LOGS}/benchmarks"

REPORT_OUTPUTS = [*REPORT_FILES.values(), *([REPORT_PDF] if LATEX else [])]
RUNTIME = runtime_of(PARAMS)


wildcard_constraints:
    camera="|".join(CAMERAS),
    suffix="|".join(suffix.replace(".", r"\.") for suffix in ARCHIVE_SUFFIXES),
    variant="[a-z0-9_]+",
    seed="[0-9]+",
    protocol="|".join(PROTOCOLS),


def per_run(pattern):
    """``pattern`` for every (camera, variant, seed) of the run."""
    return expand(pattern, camera=CAMERAS, variant=VARIANTS, seed=SEEDS)


def report_outputs_for_snakemake():
    """The report's files, those `snakemake --report report.html` shows wrapped in report()
    with their caption and category: the tables, and per camera the figure grid, curves and
    scatter plot."""
    shown = {"tables_html": ("tables.rst", "Tables", {})}
    for camera in CAMERAS:
        labels = {"camera": camera, "dataset": DATASET}
        shown[f"figure_{camera}"] = ("figure.rst", "Figures", labels)
        shown[f"curves_{camera}"] = ("curves.rst", "Curves", labels)
        shown[f"scatter_{camera}"] = ("scatter.rst", "Statistics", labels)
    files = []
    for name, path in REPORT_FILES.items():
        if name in shown:
            caption, category, labels = shown[name]
            path = report(
                path, caption=f"../report/{caption}", category=category, labels=labels or None
            )
        files.append(path)
    return files


def sid_archive(wildcards):
    """The camera's SID archive (none when sid.root names a folder holding the data)."""
    if PARAMS.sid.root:
        return []
    return str(paths.archive_path(PARAMS, wildcards.camera))


def sid_sources(wildcards):
    """What sid_unpack makes the camera's dataset from: its archive, or with sid.root the
    raws already there."""
    if PARAMS.sid.root:
        return {"raws": root_raws(wildcards)}
    return {"archive": sid_archive(wildcards)}


def root_raws(wildcards):
    """With sid.root, the raws SID's split lists name in that folder: a changed one is
    recorded again (and what used it retrains)."""
    from gianet.fetch.sid import packaged_files

    return [str(Path(PARAMS.sid.root) / name) for name in packaged_files(wildcards.camera)]

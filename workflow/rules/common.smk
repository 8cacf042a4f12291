"""Shared helpers: the validated configuration and every path, from gianet.paths.

Rules hand each job its files (``{input}``, ``{output}``) and exactly the settings its
results depend on (``params``), so a job reruns when, and only when, those change. The
``runtime`` section (threads, device, loader processes, checkpoint cadence, download timeout
and retries) reaches jobs as a resource, which Snakemake never treats as a reason to rerun.

A damaged cache reruns ``pack``. Snakemake judges a job by its output's existence, times and
recorded settings, never by its content, so a cached array overwritten with garbage or cut
short would otherwise stay "up to date". When the DAG is built (in the main process only, not
in each job), the fast check of every existing cache runs (size, ``.npy`` header and sampled
blocks of each array against its manifest: 64 KiB read per array, whatever its size), and the
manifest of a damaged cache is moved to ``manifest.json.damaged``. ``pack``'s output is then
missing, so ``pack`` is scheduled (``snakemake -n`` shows it); it rebuilds only the arrays that
fail and writes the manifest again. Training and evaluation take the cache as an ``ancient``
input, with the dataset's identity as a param (:func:`dataset_identity`), so a rebuilt cache
retrains nothing while a different dataset still does. Moving the manifest, rather than forcing the job through a ``params`` value or an extra
input, is what keeps the repair to exactly one run: Snakemake records those, and the value
recorded while damaged would differ from the one after the repair and rerun ``pack`` and
everything after it a second time. The manifest is an index that no longer matches its
arrays, so retiring it loses nothing (it is kept beside it, for inspection, until ``pack``
writes a new one).
"""

import json
import sys

from pathlib import Path

from gianet import paths
from gianet.config import validate
from gianet.data.cache import retire_if_damaged
from gianet.dvc_record import adopt_checkout, record_outputs
from gianet.variants import get_variant, train_settings_for

validate(config, source="params.yaml (with any --configfile/--config overrides)")

DATASET = config["dataset"]
CAMERAS = config["cameras"]
VARIANTS = config["variants"]

LISTS = [str(path) for path in paths.list_files(config, "{camera}")]
MANIFEST = str(paths.manifest(config, "{camera}"))
MODEL = str(paths.model_file(config, "{camera}", "{variant}"))
CURVES = str(paths.train_curves(config, "{camera}", "{variant}"))
METRICS_CSV = str(paths.metrics_csv(config, "{camera}", "{variant}"))
SUMMARY = str(paths.summary_file(config, "{camera}", "{variant}"))
SAMPLES = str(paths.samples_dir(config, "{camera}", "{variant}"))
REPORT = paths.report_dir(config)
COSTS = str(REPORT / paths.COSTS)
TABLES = str(REPORT / paths.TABLES)
TABLES_HTML = str(REPORT / paths.TABLES_HTML)
FIGURES = [str(REPORT / paths.figure_name(camera)) for camera in CAMERAS]
CURVE_FIGURES = [str(REPORT / paths.curves_name(camera)) for camera in CAMERAS]
HEADLINE = paths.HEADLINE_METRICS
CURVE_TABLES = list(paths.CURVE_TABLES.values())  # loss, psnr: the order `gianet report` takes
WEIGHTS_STATUS = str(paths.weights_status(config))
SID_DOWNLOAD = str(paths.download_path(config, "{camera}", "{suffix}"))
LOGS = f"logs/{DATASET}"
BENCHMARKS = f"{LOGS}/benchmarks"

REPORT_OUTPUTS = [TABLES, HEADLINE, *CURVE_TABLES, *FIGURES, *CURVE_FIGURES]

# When the DAG is built, in the main process only (not in each job):
if workflow.is_main_process:
    # Outputs DVC put in place (dvc pull, exp apply) are taken as up to date when dvc.lock
    # vouches for them, before Snakemake judges them by their timestamps (gianet/dvc_record.py).
    adopted = adopt_checkout(Path.cwd(), config, workflow.main_snakefile)
    if adopted:
        print(adopted)
    # A damaged cache: its manifest retired, so that pack rebuilds it (see the top).
    for camera in CAMERAS:
        manifest = paths.manifest(config, camera)
        damaged = retire_if_damaged(manifest)
        if damaged:
            print(
                f"gianet: the {camera} cache is damaged ({damaged[0]}"
                + (f"; and {len(damaged) - 1} more" if len(damaged) > 1 else "")
                + f"); its manifest moved to {manifest}.damaged so that pack rebuilds it",
                file=sys.stderr,
            )
# How jobs run, never what they compute (see params.yaml); threads travel as `threads:`.
RUNTIME = json.dumps(config["runtime"], sort_keys=True)


wildcard_constraints:
    camera="|".join(paths.CAMERAS),
    suffix="|".join(suffix.replace(".", r"\.") for suffix in paths.ARCHIVE_SUFFIXES),
    variant="[a-z0-9_]+",


def dataset_identity():
    """JSON of what decides the packed cache's bytes: sid-synth's generator settings, or where
    SID comes from, and the black and white levels packing subtracts (`sid.levels`). Training
    and evaluation take the packed cache as `ancient` input (rebuilding a damaged or missing
    cache retrains nothing) and this as a param instead: a different dataset, or the same
    packed with other levels, still reruns them."""
    if DATASET == "sid-synth":
        source = config["synth"]
    else:
        source = {key: config["sid"][key] for key in ("root", "archives")}
    identity = {"dataset": DATASET, "source": source, "levels": config["sid"]["levels"]}
    return json.dumps(identity, sort_keys=True)


DATASET_IDENTITY = dataset_identity()


def train_settings(wildcards):
    """The `train` settings the variant's weights depend on, as JSON (a setting it cannot
    use, e.g. MS-SSIM's exponents for an L1 variant, retrains nothing when it changes)."""
    variant = get_variant(wildcards.variant)
    return json.dumps(train_settings_for(variant, config["train"]), sort_keys=True)


def settings(section):
    """One whole configuration section as JSON, for a job's ``--settings``."""
    return json.dumps(config[section], sort_keys=True)


def camera_labels():
    """Labels of the per-camera items of `snakemake --report`, in CAMERAS order."""
    return [{"camera": camera, "dataset": DATASET} for camera in CAMERAS]


def per_run(pattern):
    """``pattern`` for every (camera, variant), camera-major: the report's order."""
    return expand(pattern, camera=CAMERAS, variant=VARIANTS)


def sid_archive(wildcards):
    """The camera's SID archive (none when sid.root names an unpacked folder)."""
    if config["sid"]["root"]:
        return []
    return str(paths.archive_path(config, wildcards.camera))


def excluded_scenes(wildcards):
    """The camera's scenes left out of validation and test (`sid.exclude_scenes`: SID's
    misaligned Sony scenes), on SID only."""
    if DATASET != "sid":
        return ""
    return " ".join(str(scene) for scene in config["sid"]["exclude_scenes"][wildcards.camera])


def test_exposures(wildcards):
    """The camera's test protocol (`evaluate.test_exposures`): first (_00 shots) or all."""
    return config["evaluate"]["test_exposures"][wildcards.camera]

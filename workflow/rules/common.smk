"""Shared helpers: the validated configuration and every path pattern, from gianet.paths."""

import json

from pathlib import Path

from gianet import paths
from gianet.data.sid import archive_path
from gianet.config import validate

validate(config, source="params.yaml (with any --configfile/--config overrides)")

DATASET = config["dataset"]
CAMERAS = config["cameras"]
VARIANTS = config["variants"]

LISTS = [str(paths.list_file(config, "{camera}", split)) for split in paths.SPLITS]
MANIFEST = str(paths.manifest(config, "{camera}"))
MODEL = str(paths.model_file(config, "{camera}", "{variant}"))
TRAIN_METRICS = str(paths.train_log_dir(config, "{camera}", "{variant}") / "metrics.json")
RESULTS = paths.results_dir(config, "{camera}", "{variant}")
REPORT = paths.report_dir(config)
# Where the sid_download rule puts an archive (a user's own archive needs no rule).
SID_DOWNLOAD = str(Path(config["paths"]["data"]) / "sid" / "archives" / "{camera}{suffix}")
LOGS = f"logs/{DATASET}"
WEIGHTS_STATUS = str(Path(config["paths"]["weights"]) / "status.json")

METRICS = "metrics.json"  # the run's headline numbers, declared as DVC metrics
REPORT_OUTPUTS = [
    str(REPORT / "tables.tex"),
    METRICS,
    *(str(REPORT / f"{kind}_{camera}.png") for kind in ("figure", "curves") for camera in CAMERAS),
]

wildcard_constraints:
    camera="Sony|Fuji",
    suffix=r"\.zip|\.tar\.gz|\.tgz|\.tar",
    variant="[a-z0-9_]+",


def sid_archive(wildcards):
    """The camera's SID archive (none when sid.root names an unpacked folder)."""
    if config["sid"]["root"]:
        return []
    return str(archive_path(config, wildcards.camera))


def sections(*names):
    """JSON of the configuration sections a job depends on, passed as ``gianet --override``."""
    picked = {}
    for name in names:
        head, _, tail = name.partition(".")
        value = config[head] if not tail else {tail: config[head][tail]}
        picked[head] = {**picked.get(head, {}), **value} if tail else value
    return json.dumps(picked, sort_keys=True)

"""Snakemake and DVC keeping one record of the workflow's outputs.

DVC versions data, weights, models, results and metrics through the stages of ``dvc.yaml``,
which run Snakemake; Snakemake decides what to recompute from its own records (timestamps and
``.snakemake/metadata``). Each tool changes files behind the other's back, so:

- After a successful plain ``snakemake`` run, :func:`record_outputs` runs ``dvc commit`` for
  the stages. Otherwise DVC's lock file knows nothing of what was made, and the next
  ``dvc exp run`` would check the outputs out from that empty record, deleting every model
  before retraining them all. With the record, ``dvc exp run`` reuses what is up to date.
- After DVC has put outputs in place (``dvc pull`` in a fresh clone, ``dvc checkout``,
  ``dvc exp apply``, the results of ``dvc exp run``), their timestamps are in whatever order
  DVC wrote them and Snakemake's metadata may describe other settings, so Snakemake would
  redo work that DVC vouches for. :func:`adopt_checkout`, called when the Snakefile is read,
  notices that dvc.lock changed since Snakemake's last run, checks with ``dvc status`` that
  the workspace is exactly what DVC recorded for this configuration, and then has Snakemake
  mark every output up to date in workflow order (``snakemake --touch --forceall``), which
  also rewrites its metadata to the settings that made them.

Neither happens when Snakemake runs under DVC (DVC records its own stages), on a cluster
node, outside a DVC project, when the run's configuration is not the one DVC's stages use
(params.yaml and ``pipeline.configfile``), or when ``pipeline.record_in_dvc`` is false.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gianet import atomic
from gianet.config import ConfigError, deep_merge, read_yaml
from gianet.errors import one_line

#: The stages of dvc.yaml whose outputs a Snakemake run makes.
STAGES = ("data", "weights", "pipeline")
#: Where Snakemake's side keeps the hash of the dvc.lock it last agreed with.
MARKER = Path(".snakemake") / "gianet" / "dvc.lock.sha256"
#: Set in the environment of the ``snakemake --touch`` that adoption starts.
ADOPTING = "GIANET_ADOPTING_DVC_CHECKOUT"


def dvc_configuration(workdir: str | Path) -> dict:
    """The configuration DVC's stages run: params.yaml with ``pipeline.configfile`` merged
    over it (as ``snakemake --configfile`` merges it)."""
    workdir = Path(workdir)
    params = read_yaml(workdir / "params.yaml")
    configfile = params["pipeline"]["configfile"]
    if Path(configfile) == Path("params.yaml"):
        return params
    return deep_merge(params, read_yaml(workdir / configfile, allow_empty=True))


def why_not(workdir: str | Path, config: dict) -> str | None:
    """Why Snakemake and DVC should not exchange records now, or ``None``."""
    if not config["pipeline"]["record_in_dvc"]:
        return "pipeline.record_in_dvc is false"
    if os.environ.get("DVC_STAGE"):
        return "running as a DVC stage, which DVC records itself"
    if os.environ.get(ADOPTING):
        return "adopting a DVC checkout"
    workdir = Path(workdir)
    if not (workdir / "dvc.yaml").is_file() or not (workdir / ".dvc").is_dir():
        return f"{workdir} is not the root of a DVC project"
    if shutil.which("dvc") is None:
        return "no dvc command on PATH"
    try:
        same = dvc_configuration(workdir) == config
    except (OSError, KeyError, TypeError, ConfigError) as exc:
        return f"cannot read the configuration DVC runs ({exc})"
    if not same:
        return (
            "this run's configuration is not the one DVC's stages run (params.yaml and "
            "pipeline.configfile); run it as `dvc exp run -S pipeline.configfile=...`"
        )
    return None


def lock_digest(workdir: str | Path) -> str | None:
    lock = Path(workdir) / "dvc.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None


def remember_lock(workdir: str | Path) -> None:
    """Note the dvc.lock Snakemake now agrees with."""
    digest = lock_digest(workdir)
    atomic.write_text(Path(workdir) / MARKER, digest or "")


def record_outputs(workdir: str | Path, config: dict, timeout: float = 3600) -> str:
    """Run ``dvc commit --force`` for :data:`STAGES` in ``workdir``; say what happened.

    With the project's cache type (``hardlink`` first, .dvc/config) the commit links each
    output into DVC's cache: no second copy, and the files keep their timestamps, so
    Snakemake still sees them as it made them.

    Never raises: a run whose outputs are complete stays successful when DVC cannot record
    them; the message says how to record them by hand.
    """
    reason = why_not(workdir, config)
    if reason is not None:
        return f"DVC record skipped: {reason}"
    start = time.monotonic()
    command = ["dvc", "commit", "--force", "--quiet", *STAGES]
    failure = _run(command, workdir, timeout)
    if failure:
        return f"DVC record failed ({failure}); run `{' '.join(command)}` by hand"
    remember_lock(workdir)
    return (
        f"DVC record: dvc.lock now describes the outputs of stages {', '.join(STAGES)} "
        f"({time.monotonic() - start:.1f} s)"
    )


def adopt_checkout(
    workdir: str | Path, config: dict, snakefile: str | Path, timeout: float = 3600
) -> str | None:
    """Make Snakemake take the outputs DVC put in place as up to date (see the module).

    Returns:
        What was done, or ``None`` when nothing needed doing (dvc.lock unchanged since
        Snakemake last agreed with it, or no DVC project here).
    """
    workdir = Path(workdir)
    digest = lock_digest(workdir)
    marker = workdir / MARKER
    if digest is None or (marker.is_file() and marker.read_text() == digest):
        return None
    reason = why_not(workdir, config)
    if reason is not None:
        return None if "not the root of a DVC project" in reason else f"DVC checkout: {reason}"
    failure = _run(["dvc", "status", "--json", *STAGES], workdir, timeout, expect="{}")
    if failure:
        return (
            f"DVC checkout not adopted: the workspace is not what dvc.lock records ({failure}); "
            "Snakemake goes by its own records"
        )
    start = time.monotonic()
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
        "--directory", str(workdir), "--touch", "--forceall", "--cores", "1", "--quiet",
        "--configfile", config["pipeline"]["configfile"],
    ]  # fmt: skip
    failure = _run(command, workdir, timeout, env=os.environ | {ADOPTING: "1"})
    if failure:
        return f"DVC checkout not adopted: `snakemake --touch` failed ({failure})"
    remember_lock(workdir)
    return (
        "DVC checkout adopted: dvc.lock vouches for the outputs in place, Snakemake marked "
        f"them up to date in workflow order ({time.monotonic() - start:.1f} s)"
    )


def _run(
    command: list[str],
    workdir: str | Path,
    timeout: float,
    expect: str | None = None,
    env: dict | None = None,
) -> str | None:
    """Run a command; ``None`` when it succeeded (and printed ``expect``, if given), else why
    not in a few words."""
    try:
        done = subprocess.run(
            command, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return detail[-1] if detail else f"exit status {done.returncode}"
    if expect is not None and done.stdout.strip() != expect:
        try:
            changes = json.loads(done.stdout)
        except json.JSONDecodeError:
            return one_line(done.stdout)
        return one_line("; ".join(f"{stage}: {change}" for stage, change in changes.items()), 300)
    return None

"""A plain ``snakemake`` run's outputs, recorded in DVC when the run ends.

DVC versions what the workflow makes; its one stage (dvc.yaml) runs Snakemake, which alone
decides what to recompute. A run started by ``dvc exp run`` or ``dvc repro`` is recorded by
DVC itself. A run started as plain ``snakemake`` is recorded here, from the workflow's
``onsuccess``: ``dvc commit`` of the stage, which tells DVC that what is in place is that
stage's output. Without it DVC's lock file would know nothing of the outputs, and the next
``dvc exp run`` would reset them to that empty record: it deletes every model before the
workflow retrains them all.

This is the only call from Snakemake to DVC, and it happens after a successful run, never
while the DAG is built. It is skipped when Snakemake runs under DVC, outside a DVC project,
without the ``dvc`` command, when the run's configuration is not the one DVC's stage runs
(params.yaml with ``pipeline.configfile`` merged over it), or when
``pipeline.record_in_dvc`` is false. It never fails the run: a run whose outputs are complete
stays successful, and the message says how to record them by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from gianet.errors import GianetError, one_line
from gianet.settings import Params, load_params

#: The stage of dvc.yaml that runs the workflow.
STAGE = "pipeline"


def why_not(workdir: str | Path, params: Params) -> str | None:
    """Why a run's outputs should not be recorded in DVC now, or ``None``."""
    if not params.pipeline.record_in_dvc:
        return "pipeline.record_in_dvc is false"
    if os.environ.get("DVC_STAGE"):
        return "running as a DVC stage, which DVC records itself"
    workdir = Path(workdir)
    if not (workdir / "dvc.yaml").is_file() or not (workdir / ".dvc").is_dir():
        return f"{workdir} is not the root of a DVC project"
    if shutil.which("dvc") is None:
        return "no dvc command on PATH"
    configfile = params.pipeline.configfile
    overrides = [] if Path(configfile) == Path("params.yaml") else [workdir / configfile]
    try:
        staged = load_params(workdir / "params.yaml", overrides)
    except GianetError as exc:
        return f"cannot read the configuration DVC's stage runs ({one_line(exc)})"
    if staged != params:
        return (
            "this run's configuration is not the one DVC's stage runs (params.yaml and "
            "pipeline.configfile); run it as `dvc exp run -S pipeline.configfile=...`"
        )
    return None


def record_outputs(workdir: str | Path, params: Params, timeout: float = 3600) -> str:
    """Run ``dvc commit --force`` of the stage in ``workdir``; say what happened.

    With the project's cache type (``hardlink`` first, .dvc/config) the commit links each
    output into DVC's cache: no second copy, and the files keep their timestamps. Never
    raises.
    """
    reason = why_not(workdir, params)
    if reason is not None:
        return f"DVC record skipped: {reason}"
    start = time.monotonic()
    command = ["dvc", "commit", "--force", "--quiet", STAGE]
    try:
        done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"DVC record failed ({one_line(exc)}); run `{' '.join(command)}` by hand"
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        why = detail[-1] if detail else f"exit status {done.returncode}"
        return f"DVC record failed ({one_line(why)}); run `{' '.join(command)}` by hand"
    return (
        f"DVC record: dvc.lock now describes the outputs of stage {STAGE} "
        f"({time.monotonic() - start:.1f} s)"
    )

"""Keeping DVC's record of the workflow's outputs current after a plain ``snakemake`` run.

DVC versions data, models, results and metrics through the stages of ``dvc.yaml``, which run
Snakemake. When a user runs Snakemake directly, DVC's lock file knows nothing of what was
made, and the next ``dvc exp run`` would check the stage's outputs out from that empty record,
deleting every model and result before retraining them all. So after a successful run the
Snakefile calls :func:`record_outputs`, which runs ``dvc commit`` for the stages: the lock
file then describes the outputs on disk, DVC caches them (through links, no second copy),
and ``dvc exp run`` reuses whatever Snakemake finds up to date.

Nothing is recorded when Snakemake runs under DVC (``dvc repro`` and ``dvc exp run`` record
their own), outside a DVC project, or when ``pipeline.record_in_dvc`` is false.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

#: The stages of dvc.yaml whose outputs a Snakemake run makes.
STAGES = ("data", "pipeline")


def should_record(workdir: str | Path, enabled: bool) -> str | None:
    """Why nothing should be recorded, or ``None`` when it should."""
    if not enabled:
        return "pipeline.record_in_dvc is false"
    if os.environ.get("DVC_STAGE"):
        return "running as a DVC stage, which DVC records itself"
    workdir = Path(workdir)
    if not (workdir / "dvc.yaml").is_file() or not (workdir / ".dvc").is_dir():
        return f"{workdir} is not the root of a DVC project"
    if shutil.which("dvc") is None:
        return "no dvc command on PATH"
    return None


def record_outputs(workdir: str | Path, enabled: bool = True, timeout: float = 3600) -> str:
    """Run ``dvc commit --force`` for :data:`STAGES` in ``workdir``; say what happened.

    Never raises: a run whose outputs are complete stays successful when DVC cannot record
    them; the message says how to record them by hand.
    """
    reason = should_record(workdir, enabled)
    if reason is not None:
        return f"DVC record skipped: {reason}"
    start = time.monotonic()
    command = ["dvc", "commit", "--force", "--quiet", *STAGES]
    try:
        done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"DVC record failed ({exc}); run `{' '.join(command)}` by hand"
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return (
            f"DVC record failed ({detail[-1] if detail else done.returncode}); "
            f"run `{' '.join(command)}` by hand"
        )
    return (
        f"DVC record: dvc.lock now describes the outputs of stages {', '.join(STAGES)} "
        f"({time.monotonic() - start:.1f} s)"
    )

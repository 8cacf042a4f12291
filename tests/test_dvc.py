"""DVC on top of Snakemake, in a throwaway copy of the project on a tiny sid-synth: a plain run
is recorded, `dvc exp run` reuses it, experiments compare, and a fresh clone pulls data,
models and metrics back with nothing for Snakemake to redo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_config

REPO = Path(__file__).parents[1]
TINY = tiny_config(
    cameras=["Sony"],
    synth={"scenes": {"test": 1}},
    runtime={"progress": False},
)
GIT = ["git", "-c", "user.name=gianet tests", "-c", "user.email=tests@gianet.invalid"]


def sh(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
    return done


def rules_run(output: str) -> dict[str, int]:
    """How many jobs of each rule a Snakemake log shows starting."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        for prefix in ("rule ", "localrule "):
            if line.startswith(prefix) and line.endswith(":"):
                name = line[len(prefix) : -1]
                counts[name] = counts.get(name, 0) + 1
    return counts


def copy_project(destination: Path) -> None:
    """The project's files as git sees them (tracked and new, not ignored), in a new repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvc")
    work = root / "project"
    copy_project(work)
    params = yaml.safe_load((work / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section] = params[section] | values if isinstance(values, dict) else values
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    sh(["git", "init", "-q"], work, env)
    sh([*GIT, "add", "-A"], work, env)
    sh([*GIT, "commit", "-qm", "tiny project"], work, env)
    return {"root": root, "work": work, "env": env}


@pytest.mark.slow
def test_plain_run_is_recorded_and_an_experiment_on_top_reuses_it(project):
    work, env = project["work"], project["env"]
    run = sh([sys.executable, "-m", "snakemake", "--cores", "all"], work, env)
    assert "DVC record: dvc.lock now describes the outputs" in run.stdout + run.stderr
    model = work / "models/sid-synth/Sony/sid_net/model.pt"
    assert model.stat().st_nlink == 2  # linked into DVC's cache, not copied
    before = model.stat().st_mtime_ns
    exp = sh(["dvc", "exp", "run"], work, env)
    assert exp.stdout.count("didn't change, skipping") == 3
    assert model.stat().st_mtime_ns == before  # nothing retrained
    dry = sh([sys.executable, "-m", "snakemake", "-n"], work, env)
    assert "Nothing to be done" in dry.stdout + dry.stderr


@pytest.mark.slow
def test_experiments_rerun_training_onwards_only_and_compare(project):
    work, env = project["work"], project["env"]
    for lr in ("3e-4", "1e-3"):
        exp = sh(["dvc", "exp", "run", "-S", f"train.lr={lr}"], work, env)
        assert rules_run(exp.stdout + exp.stderr) == {
            "train": 2,
            "evaluate": 2,
            "report": 1,
            "all": 1,
        }
    table = sh(["dvc", "exp", "show", "--md", "--only-changed"], work, env).stdout
    rows = [line for line in table.splitlines() if line.startswith("| ├") or "└" in line]
    assert len(rows) >= 3  # the reuse run and the two learning rates
    assert any("0.0003" in row for row in rows) and any("0.001" in row for row in rows)
    assert "sid-synth.Sony.gia_net.psnr" in table
    plots = sh(["dvc", "plots", "show", "--json"], work, env).stdout
    assert "curves/train_loss.tsv" in plots and "Sony/gia_net" in plots


@pytest.mark.slow
def test_a_fresh_clone_pulls_everything_back_with_nothing_to_redo(project):
    work, env, root = project["work"], project["env"], project["root"]
    sh(["dvc", "remote", "add", "-d", "store", str(root / "remote")], work, env)
    sh(["dvc", "push", "-q"], work, env)
    sh([*GIT, "add", "-A"], work, env)
    sh([*GIT, "commit", "-qm", "results"], work, env)
    clone = root / "clone"
    sh(["git", "clone", "-q", str(work), str(clone)], root, env)
    sh(["dvc", "pull", "-q"], clone, env)
    for restored in ("data/sid-synth/Sony_train_list.txt", "metrics.json", ".torch/status.json"):
        assert (clone / restored).is_file(), restored
    assert (clone / "models/sid-synth/Sony/gia_net/model.pt").stat().st_size > 1_000_000
    dry = sh([sys.executable, "-m", "snakemake", "-n"], clone, env)
    said = dry.stdout + dry.stderr
    assert "DVC checkout adopted" in said and "Nothing to be done" in said
    # Snakemake's own record now matches: a new learning rate retrains, after rebuilding the
    # packed cache (never versioned); the dataset is not made again.
    (clone / "lr.yaml").write_text(yaml.safe_dump({"train": {"lr": 2e-3}}))
    changed = sh(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile", "lr.yaml"],
        clone,
        env,
    )
    stats = changed.stdout.split("Job stats")[-1].splitlines()
    counts = {f[0]: int(f[1]) for f in map(str.split, stats) if len(f) == 2 and f[1].isdigit()}
    assert counts["train"] == counts["evaluate"] == 2 and counts["pack"] == 1
    assert "synth" not in counts

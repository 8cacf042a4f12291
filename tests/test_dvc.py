"""DVC on top of Snakemake, in a throwaway copy of the project on a tiny sid-synth, as the
README's DVC section runs it: `dvc exp run` in a fresh clone, a plain run recorded and reused,
experiments that change a setting or the cameras rerun what they reach and compare, and a
clone pulls data, models and metrics back with nothing for Snakemake to redo."""

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


def counts_of(output: str) -> dict[str, int]:
    """Rule -> jobs planned, from the job stats of ``snakemake -n --quiet rules``."""
    stats = output.split("Job stats")[-1].splitlines()
    return {f[0]: int(f[1]) for f in map(str.split, stats) if len(f) == 2 and f[1].isdigit()}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file's size and modification time, Snakemake's and git's bookkeeping aside."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() and not {".snakemake", ".git", ".dvc"} & set(path.parts)
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A tiny copy of the project, committed with no outputs (what a fresh clone holds), and
    a git clone of it taken before anything ran."""
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
    sh(["git", "clone", "-q", str(work), str(root / "fresh")], root, env)
    return {"root": root, "work": work, "env": env, "fresh": root / "fresh"}


@pytest.mark.slow
def test_an_experiment_runs_in_a_fresh_clone(project):
    fresh, env = project["fresh"], project["env"]
    exp = sh(["dvc", "exp", "run"], fresh, env)
    ran = rules_run(exp.stdout + exp.stderr)
    assert ran["synth"] == ran["pack"] == 1 and ran["train"] == ran["evaluate"] == 2
    assert (fresh / "metrics.json").is_file() and (fresh / "dvc.lock").is_file()
    before = snapshot(fresh)
    dry = sh([sys.executable, "-m", "snakemake", "-n"], fresh, env)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert snapshot(fresh) == before


@pytest.mark.slow
def test_plain_run_is_recorded_and_an_experiment_on_top_reuses_it(project):
    work, env = project["work"], project["env"]
    run = sh([sys.executable, "-m", "snakemake", "--cores", "all"], work, env)
    assert "DVC record: dvc.lock now describes the outputs" in run.stdout + run.stderr
    model = work / "models/sid-synth/Sony/sid_net/seed0/model.pt"
    assert model.stat().st_nlink == 2  # linked into DVC's cache, not copied
    before = model.stat().st_mtime_ns
    exp = sh(["dvc", "exp", "run"], work, env)
    assert "Stage 'pipeline' didn't change, skipping" in exp.stdout  # the record is complete
    assert model.stat().st_mtime_ns == before  # nothing retrained


@pytest.mark.slow
def test_experiments_rerun_what_their_change_reaches_and_compare(project):
    work, env = project["work"], project["env"]
    exp = sh(["dvc", "exp", "run", "-S", "train.lr=3e-4"], work, env)
    assert rules_run(exp.stdout + exp.stderr) == {
        "train": 2,
        "evaluate": 2,
        "report": 1,
        "all": 1,
    } | ({"report_pdf": 1} if shutil.which("pdflatex") or shutil.which("tectonic") else {})
    table = sh(["dvc", "exp", "show", "--md", "--only-changed"], work, env).stdout
    rows = [line for line in table.splitlines() if line.startswith("| ├") or "└" in line]
    assert len(rows) >= 2 and any("0.0003" in row for row in rows)
    assert "sid-synth.Sony.gia_net.psnr" in table
    plots = sh(["dvc", "plots", "show", "--json"], work, env).stdout
    assert "curves/train_loss.tsv" in plots and "Sony/gia_net" in plots
    # A new camera makes its dataset, cache, trainings and evaluations; Sony's are kept.
    exp = sh(["dvc", "exp", "run", "-S", "cameras=[Sony,Fuji]"], work, env)
    ran = rules_run(exp.stdout + exp.stderr)
    assert ran["synth"] == ran["pack"] == 1 and ran["train"] == ran["evaluate"] == 2
    assert "wildcards: camera=Sony" not in exp.stdout + exp.stderr
    assert (work / "models/sid-synth/Fuji/gia_net/seed0/model.pt").is_file()


@pytest.mark.slow
def test_a_clone_pulls_everything_back_with_nothing_to_redo(project):
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
    assert (clone / "models/sid-synth/Sony/gia_net/seed0/model.pt").stat().st_size > 100_000
    # Of the packed cache only the manifest is versioned.
    assert sorted(p.name for p in (clone / "cache/sid-synth/Sony").iterdir()) == ["manifest.json"]
    before = snapshot(clone)
    dry = sh([sys.executable, "-m", "snakemake", "-n"], clone, env)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert snapshot(clone) == before  # judging DVC's checkout changed no file
    # A new learning rate retrains and reevaluates; the dataset and the cache's manifest are
    # not made again: the trainings rebuild the arrays they read.
    (clone / "lr.yaml").write_text(yaml.safe_dump({"train": {"lr": 2e-3}}))
    changed = sh(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile", "lr.yaml"],
        clone,
        env,
    )
    counts = counts_of(changed.stdout)
    assert counts["train"] == counts["evaluate"] == 4
    assert "synth" not in counts and "pack" not in counts
    exp = sh(["dvc", "exp", "run", "-S", "train.lr=2e-3"], clone, env)
    assert "rebuilt from" in exp.stdout + exp.stderr

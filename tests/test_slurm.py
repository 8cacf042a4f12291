"""The SLURM profile driving the real snakemake-executor-plugin-slurm against stand-in SLURM
commands (tests/slurm_standin.py): what is submitted where, and time limits survived by a
signal, a saved state and a requeue, with no step of the curves lost or repeated."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests import slurm_standin
from tests.conftest import tiny_config

REPO = Path(__file__).parents[1]
PROFILE = str(REPO / "profiles" / "slurm")
TINY = tiny_config(
    cameras=["Sony"],
    variants=["sid_net"],
    synth={"scenes": {"test": 1}},
    train={"epochs": 24, "lr_decay_epoch": 16},
    runtime={"val_every": 4, "checkpoint_every": 3, "progress": False},
    report={"figure_variants": ["sid_net"]},
)
TRAIN_STATE = "models/sid-synth/Sony/sid_net/train_state.pt"


def on_cluster(workdir: Path, env: dict, configfile: str) -> subprocess.CompletedProcess:
    """The workflow submitted through the SLURM profile to the stand-in cluster."""
    return snakemake(
        workdir,
        env,
        "--profile",
        PROFILE,
        "--configfile",
        configfile,
        "--slurm-init-seconds-before-status-checks",
        "1",
    )


def snakemake(workdir: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args]
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=1500
    )


def test_profile_plans_the_paper_without_cores(tmp_path):
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    paper = str(REPO / "configs" / "paper.yaml")
    for mode in ("-n", "--dag", "--rulegraph"):
        run = snakemake(tmp_path, env, "--profile", PROFILE, "--configfile", paper, mode)
        assert run.returncode == 0, (mode, run.stdout[-2000:], run.stderr[-2000:])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A finished run on the stand-in cluster whose training job met a time limit once."""
    root = tmp_path_factory.mktemp("slurm")
    workdir = root / "work"
    workdir.mkdir()
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    env = os.environ | slurm_standin.install(root / "bin", root / "state")
    # The stand-in's time limit: the stop signal once the first checkpoint exists.
    env |= {"STANDIN_SIGNAL_WHEN": TRAIN_STATE, "STANDIN_LIMIT_GRACE": "120"}
    run = on_cluster(workdir, env, "tiny.yaml")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return {"workdir": workdir, "state": root / "state", "env": env, "run": run}


def jobs_of(state: Path, rule: str) -> list[dict]:
    return [job for job in slurm_standin.submitted(state) if job["comment"].startswith(rule)]


@pytest.mark.slow
def test_gpu_rules_go_to_the_gpu_partition_with_their_resources(cluster):
    for rule, minutes in (("rule_train", "2880"), ("rule_evaluate", "240")):
        (job,) = jobs_of(cluster["state"], rule)
        argv = job["argv"]
        assert slurm_standin.option(argv, "-p") == "gpu"
        assert "--gpus=1" in argv
        assert slurm_standin.option(argv, "-t") == minutes
        assert slurm_standin.option(argv, "--mem") == "16000"
        assert any(a.startswith("--cpus-per-task=") for a in argv)
        assert "--signal=TERM@600" in argv and "--requeue" in argv
        assert "--open-mode=append" in argv
    for rule in ("rule_synth", "rule_pack", "rule_cost", "rule_report"):
        (job,) = jobs_of(cluster["state"], rule)
        assert slurm_standin.option(job["argv"], "-p") == "cpu", rule
        assert "--gpus=1" not in job["argv"] and job["state"] == "COMPLETED"


@pytest.mark.slow
def test_time_limit_is_survived_by_requeue_and_resume_with_continuous_curves(cluster):
    (train,) = jobs_of(cluster["state"], "rule_train")
    assert train["signalled"] and train["runs"] == 2 and train["state"] == "COMPLETED"
    workdir = cluster["workdir"]
    history = (workdir / "models/sid-synth/Sony/sid_net/train_history.log").read_text()
    assert "stopped: sid_net on Sony: signal 15 received; state saved" in history
    assert history.count(f"[SLURM job {train['id']}] training sid_net on Sony: started") == 2
    finished = json.loads(history.rsplit("finished: ", 1)[1].splitlines()[0])
    assert finished["resumed_from"] >= 3 and finished["epochs"] == TINY["train"]["epochs"]
    # The SLURM log keeps both runs: the interruption and the resume.
    slurm_log = next((workdir / ".snakemake/slurm_logs/rule_train").rglob(f"{train['id']}.log"))
    text = slurm_log.read_text()
    assert f"SLURM job {train['id']} requeued" in text and "resuming sid_net on Sony" in text
    series = workdir / "results/sid-synth/Sony/sid_net/train/plots/metrics/train/loss.tsv"
    with open(series, newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle, delimiter="\t")]
    assert steps == list(range(TINY["train"]["epochs"]))
    assert not (workdir / TRAIN_STATE).exists()


@pytest.mark.slow
def test_a_failure_a_rerun_cannot_fix_is_not_resubmitted(cluster):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA, where asking for it is an error")
    workdir, state = cluster["workdir"], cluster["state"]
    broken = TINY | {
        "variants": ["sid_net", "gia_net"],
        "runtime": TINY["runtime"] | {"device": "cuda"},
    }
    (workdir / "broken.yaml").write_text(yaml.safe_dump(broken))
    env = cluster["env"] | {"STANDIN_SIGNAL_WHEN": ""}
    run = on_cluster(workdir, env, "broken.yaml")
    assert run.returncode != 0
    failed = [j for j in jobs_of(state, "rule_train") if "gia_net" in j["comment"]]
    assert len(failed) == 1 and failed[0]["runs"] == 1 and failed[0]["state"] == "FAILED"
    log = (workdir / "logs/sid-synth/train_Sony_gia_net.log").read_text()
    assert "no CUDA device is visible" in log
    assert len(jobs_of(state, "rule_train")) == 2  # sid_net's earlier job and this one

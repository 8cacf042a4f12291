"""The SLURM profile driving the real snakemake-executor-plugin-slurm against the stand-in
SLURM commands (tests/slurm_standin): what each job asks for, and one training's life as a
user may lead it. The first job is cancelled with scancel, the second by Ctrl-C of Snakemake
(the plugin then calls scancel): both stop for good. The third meets its time limit four
times in a row, is warned each time, saves its state and requeues itself, then finishes. Each
epoch is trained once, in order, and the weights are those of an uninterrupted run."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from gianet.models.checkpoint import load_training_state
from tests import slurm_standin
from tests.conftest import tiny_config

REPO = Path(__file__).parents[1]
PROFILE = str(REPO / "profiles" / "slurm")
#: Epochs of the tiny training (about 0.1 s each here). Each interrupted run trains on while
#: a signal is on its way (the stand-in's poll, Snakemake's shutdown): seven of them took
#: 1 to 8 epochs each on this machine, more on a faster one; the time-limited runs need
#: epochs left to be warned in, so the budget is generous (the fixture checks it).
EPOCHS = 150
#: The time-limited runs need at least this many epochs left when they begin.
EPOCHS_LEFT_FOR_THE_LIMITS = 20
TINY = tiny_config(
    cameras=["Sony"],
    variants=["sid_net"],
    synth={"scenes": {"test": 1}},
    train={"epochs": EPOCHS, "lr_decay_epoch": 100},
    # threads: the paper's 8, more than this machine's cores: each job must still ask for 8.
    runtime={"threads": 8, "val_every": 50, "checkpoint_every": 1, "progress": False},
    report={"figure_variants": ["sid_net"]},
)
MODEL_DIR = "models/sid-synth/Sony/sid_net/seed0"
TRAIN_STATE = f"{MODEL_DIR}/train_state.pt"
RULE_LOG = "logs/sid-synth/train_Sony_sid_net_seed0.log"
LOSS = "results/sid-synth/Sony/sid_net/seed0/train/plots/metrics/train/loss.tsv"
#: What the tests ask for: the evaluation of the model (synth, pack, train, evaluate).
TARGET = "results/sid-synth/Sony/sid_net/seed0/summary.json"


def snakemake_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args]


def on_cluster(configfile: str, *args: str) -> list[str]:
    """The workflow submitted through the SLURM profile (as the README says), polled often."""
    return snakemake_command(
        "--profile", PROFILE, "--configfile", configfile,
        "--slurm-init-seconds-before-status-checks", "1", *args,
    )  # fmt: skip


def jobs_of(state: Path, rule: str) -> list[dict]:
    return [job for job in slurm_standin.submitted(state) if job["comment"].startswith(rule)]


def wait_for(what, timeout: float = 300, message: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting: {message}")


def last_run_start(job: dict) -> float:
    return [e["time"] for e in job["events"] if e["event"] == "run"][-1]


def ended(job: dict) -> bool:
    return job["events"][-1]["event"] == "ended" and job["state"] != "PENDING"


def training_saved(workdir: Path, state: Path, count: int):
    """The ``count``-th training job, once it saved a state in its current run."""

    def check():
        trains = jobs_of(state, "rule_train")
        if len(trains) < count or trains[-1]["runs"] == 0:
            return None
        saved = workdir / TRAIN_STATE
        job = trains[count - 1]
        return job if saved.exists() and saved.stat().st_mtime > last_run_start(job) else None

    return check


def saved_epoch(workdir: Path) -> int:
    """The epochs the saved training state has done (where a rerun resumes)."""
    return int(load_training_state(workdir / TRAIN_STATE)["epochs_done"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One tiny workflow up to an evaluation: its training stopped by scancel, then by Ctrl-C,
    then warned of its time limit four runs in a row, then finished and evaluated."""
    root = tmp_path_factory.mktemp("slurm")
    workdir, state = root / "work", root / "state"
    workdir.mkdir()
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    env = os.environ | slurm_standin.install(root / "bin", state)
    env |= {"STANDIN_KILL_WAIT": "10", "STANDIN_REQUEUE_DELAY": "1"}
    outcome: dict = {"workdir": workdir, "state": state, "env": env}

    def start(name: str, extra: dict | None = None) -> subprocess.Popen:
        log = open(root / f"{name}.out", "w")  # noqa: SIM115 (closed with the process)
        return subprocess.Popen(
            on_cluster("tiny.yaml", TARGET), cwd=workdir, env=env | (extra or {}), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    try:
        # 1. scancel of the training job once it saved a state.
        first = start("scancel")
        job = wait_for(training_saved(workdir, state, 1), message="first training")
        subprocess.run(["scancel", job["id"]], env=env, check=True)
        wait_for(lambda: ended(jobs_of(state, "rule_train")[0]), 60, "cancelled job's end")
        time.sleep(3)  # a few status checks of the plugin
        outcome["waiting_after_scancel"] = first.poll() is None
        first.send_signal(signal.SIGINT)  # the user gives up waiting: Ctrl-C
        first.wait(timeout=120)
        # 2. Ctrl-C of Snakemake while the second training job runs: the plugin scancels it.
        second = start("ctrl-c")
        wait_for(training_saved(workdir, state, 2), message="second training")
        second.send_signal(signal.SIGINT)
        outcome["ctrl_c_status"] = second.wait(timeout=120)
        wait_for(lambda: ended(jobs_of(state, "rule_train")[1]), 60, "Ctrl-C'd job's end")
        left = EPOCHS - saved_epoch(workdir)
        assert left >= EPOCHS_LEFT_FOR_THE_LIMITS, f"the cancels left {left} epochs: raise EPOCHS"
        # 3. The time limit four runs in a row (warned each time), then the evaluation.
        limits = {
            "STANDIN_TIME_LIMIT_AT": TRAIN_STATE,
            "STANDIN_TIME_LIMITED_RUNS": "4",
            "STANDIN_LIMIT_GRACE": "300",
        }
        third = start("limits", limits)
        outcome["status"] = third.wait(timeout=900)
    finally:
        for job in slurm_standin.submitted(state):  # leave nothing running
            subprocess.run(["scancel", job["id"]], env=env, check=False)
    outcome["output"] = {p.stem: p.read_text() for p in root.glob("*.out")}
    assert outcome["status"] == 0, outcome["output"]["limits"][-6000:]
    outcome["trains"] = jobs_of(state, "rule_train")
    return outcome


@pytest.mark.slow
def test_every_job_asks_for_what_its_rule_declares(cluster):
    assert (os.cpu_count() or 1) < 8  # this machine: fewer cores than a training asks for
    expected = {"rule_train": ("2880", "8"), "rule_evaluate": ("240", "8")}
    for rule, (minutes, cpus) in expected.items():
        for job in jobs_of(cluster["state"], rule):
            argv = job["argv"]
            assert slurm_standin.option(argv, "-p") == "gpu" and "--gpus=1" in argv
            assert slurm_standin.option(argv, "-t") == minutes
            assert slurm_standin.option(argv, "--mem") == "16000"
            assert f"--cpus-per-task={cpus}" in argv, argv
            assert "--signal=TERM@600" in argv and "--requeue" in argv
            assert "--open-mode=append" in argv
            # Inside the job, the jobstep plugin starts the rule as a step with the same CPUs.
            assert all(f"--cpus-per-task={cpus}" in step for step in job["steps"])
    for job in slurm_standin.submitted(cluster["state"]):  # named after the workflow
        assert slurm_standin.option(job["argv"], "--job-name").startswith("gianet_")
    (pack,) = jobs_of(cluster["state"], "rule_pack")
    assert "--cpus-per-task=16" in pack["argv"]  # pack's `threads: 16`
    for rule in ("rule_synth", "rule_pack"):
        (job,) = jobs_of(cluster["state"], rule)
        assert slurm_standin.option(job["argv"], "-p") == "cpu", rule
        assert "--gpus=1" not in job["argv"] and job["state"] == "COMPLETED"


def history_lines(cluster) -> list[str]:
    return (cluster["workdir"] / MODEL_DIR / "train_history.log").read_text().splitlines()


@pytest.mark.slow
def test_a_scancel_and_a_ctrl_c_stop_the_training_for_good(cluster):
    cancelled, interrupted, finished = cluster["trains"]
    uid = os.getuid()
    for job in (cancelled, interrupted):
        assert job["state"] == f"CANCELLED by {uid}" and job["runs"] == 1, job
        assert job["restarts"] == 0
        asked = [e for e in job["events"] if e["event"] == "requeue"]
        assert asked and not any(e["done"] for e in asked)  # asked, Incomplete: left alone
    # The plugin does not take sacct's "CANCELLED by <uid>" for an end: Snakemake waited on.
    assert cluster["waiting_after_scancel"]
    assert cluster["ctrl_c_status"] != 0
    history = history_lines(cluster)
    for job in (cancelled, interrupted):
        (stop,) = [line for line in history if f"[SLURM job {job['id']}] stopped:" in line]
        assert f"SLURM job {job['id']} not requeued" in stop
        assert "rerun the workflow to resume" in stop
    # Each job started after the previous one had ended: one training at a time.
    for before, after in ((cancelled, interrupted), (interrupted, finished)):
        end = [e["time"] for e in before["events"] if e["event"] == "ended"][-1]
        assert end < [e["time"] for e in after["events"] if e["event"] == "run"][0]


@pytest.mark.slow
def test_four_time_limits_in_a_row_are_survived_by_requeue_and_resume(cluster):
    job = cluster["trains"][-1]
    assert (job["state"], job["runs"], job["restarts"]) == ("COMPLETED", 5, 4)
    warnings = [
        e for e in job["events"]
        if e["event"] == "signal" and e["signal"] == "SIGTERM" and not e["batch"]
    ]  # fmt: skip
    assert len(warnings) == 4
    history = [line for line in history_lines(cluster) if f"[SLURM job {job['id']}]" in line]
    requeued = [line for line in history if "requeued (restart" in line]
    assert len(requeued) == 4 and all("runs again by itself" in line for line in requeued)
    starts = [line for line in history if line.endswith(": started")]
    assert [f"(run {k} of the SLURM job)" in line for k, line in enumerate(starts, 1)] == [
        False, True, True, True, True
    ]  # fmt: skip
    assert sum("resuming sid_net on Sony at epoch" in line for line in history) == 5
    assert history[-1].split("] ", 1)[1].startswith("finished:")
    assert not any("ended without a stop line" in line for line in history_lines(cluster))
    # The rule log holds every run of the job: Snakemake empties it at each start, gianet
    # replays the earlier runs into it.
    log = (cluster["workdir"] / RULE_LOG).read_text()
    for run in range(1, 6):
        assert log.count(f"---- run {run} of SLURM job {job['id']} ----") == 1
    assert log.count("gianet train: interrupted:") == 4
    assert log.count(f"SLURM job {job['id']} requeued") >= 4
    assert not (cluster["workdir"] / MODEL_DIR / "slurm_job_output.log").exists()
    assert not (cluster["workdir"] / TRAIN_STATE).exists()


@pytest.mark.slow
def test_each_epoch_is_trained_once_in_order(cluster):
    with open(cluster["workdir"] / LOSS, newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle, delimiter="\t")]
    assert steps == list(range(EPOCHS))
    # The README's progress command says the same.
    summary = subprocess.run(
        snakemake_command("--profile", PROFILE, "--configfile", "tiny.yaml", "--summary"),
        cwd=cluster["workdir"], env=cluster["env"], capture_output=True, text=True,
    )  # fmt: skip
    assert summary.returncode == 0, summary.stderr[-2000:]
    (model,) = [line for line in summary.stdout.splitlines() if f"{MODEL_DIR}/model.pt" in line]
    assert "ok" in model.split("\t")


def shell_command_of(slurm_log: str) -> list[str]:
    """The last ``gianet train`` command a SLURM log shows (Snakemake prints it)."""
    line = [line for line in slurm_log.splitlines() if "gianet train " in line][-1]
    command = line[line.index("gianet train ") : line.index(" 2>&1")]
    return shlex.split(command)


@pytest.mark.slow
def test_the_weights_are_those_of_an_uninterrupted_run(cluster, tmp_path):
    job = cluster["trains"][-1]
    workdir = cluster["workdir"]
    slurm_log = next((workdir / ".snakemake/slurm_logs/rule_train").rglob(f"{job['id']}.log"))
    command = shell_command_of(slurm_log.read_text())
    model = command.index("--model") + 1
    curves = command.index("--curves") + 1
    command[model] = str(tmp_path / "model.pt")
    command[curves] = str(tmp_path / "train" / "metrics.json")
    # Without checkpoints and validation: `runtime` changes how a job runs, never its result.
    runtime = command.index("--runtime") + 1
    command[runtime] = json.dumps(
        json.loads(command[runtime]) | {"checkpoint_every": 0, "val_every": 0}
    )
    env = {k: v for k, v in cluster["env"].items() if not k.startswith("SLURM_")}
    subprocess.run(command, cwd=workdir, env=env, check=True, capture_output=True)
    ours = torch.load(workdir / MODEL_DIR / "model.pt", weights_only=True)["state_dict"]
    straight = torch.load(tmp_path / "model.pt", weights_only=True)["state_dict"]
    assert ours.keys() == straight.keys()
    assert all(torch.equal(ours[k], straight[k]) for k in ours)


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
    before = len(jobs_of(state, "rule_train"))
    run = subprocess.run(
        on_cluster("broken.yaml", f"{MODEL_DIR.replace('sid_net', 'gia_net')}/model.pt"),
        cwd=workdir, env=cluster["env"], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode != 0
    failed = [j for j in jobs_of(state, "rule_train") if "gia_net" in j["comment"]]
    assert len(failed) == 1 and failed[0]["runs"] == 1 and failed[0]["state"] == "FAILED"
    log = (workdir / "logs/sid-synth/train_Sony_gia_net_seed0.log").read_text()
    assert "no CUDA device is visible" in log
    assert len(jobs_of(state, "rule_train")) == before + 1


def test_the_slurm_profile_leaves_cores_to_the_rules_and_plans_the_paper():
    """Snakemake caps every job's threads at ``cores``, on a cluster too; the workflow
    profile (read with every --profile, and winning over it) must not set it."""
    from snakemake.cli import parse_args

    snakefile = ["-s", str(REPO / "Snakefile")]
    _, slurm = parse_args([*snakefile, "--profile", PROFILE])
    _, local = parse_args([*snakefile, "--profile", str(REPO / "profiles" / "local")])
    assert slurm.cores == 10000 and slurm.executor == "slurm" and slurm.jobs == 32
    assert local.cores == len(os.sched_getaffinity(0)) and local.printshellcmds


def granted_threads(command: str) -> int:
    """The threads a job's command line is handed (its ``--runtime`` JSON)."""
    return json.loads(command.split("--runtime '", 1)[1].split("'", 1)[0])["threads"]


def test_the_dry_run_of_the_paper_shows_the_threads_each_job_asks_for(tmp_path):
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    paper = str(REPO / "configs" / "paper.yaml")
    for mode in ("-n", "--dag", "--rulegraph"):
        command = snakemake_command("--profile", PROFILE, "--configfile", paper, mode)
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert run.returncode == 0, (mode, run.stdout[-2000:], run.stderr[-2000:])
        if mode == "-n":
            lines = run.stdout.splitlines()
            trainings = [line for line in lines if "gianet train " in line]
            assert len(trainings) == 28  # 14 variants x 2 cameras
            assert {granted_threads(line) for line in trainings} == {8}
            packs = [line for line in lines if "gianet pack " in line]
            assert {granted_threads(line) for line in packs} == {16}  # one decoder per thread

"""The stage declarations, the command line and the Snakemake rules agree: every rule's command
is one its stage's parser accepts, every job's settings are those `--params` builds from the
same configuration, no command-line option has a default of its own, and every workflow stage
has its rule."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gianet import paths
from gianet.cli import parser
from gianet.settings import load_params
from gianet.stages import STAGES
from gianet.stages.released import ReleasedEvaluateJob

REPO = Path(__file__).parents[1]
#: Stages run by hand, never by a rule (README: running one stage by hand).
TOOLS = {"verify-cache", "check-params", "schema", "variants", "enhance"}


def subparsers() -> dict[str, argparse.ArgumentParser]:
    top = parser()
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def dry_run_commands(workdir: Path, *configfiles: str) -> list[str]:
    """Every job's command line of a dry run of the whole DAG, as Snakemake prints it."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    configs = ["--configfile", *configfiles] if configfiles else []
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "-p",
               "--forceall", "--cores", "1", *configs]  # fmt: skip
    run = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    prefix = "Shell command: "
    lines = run.stdout.splitlines()
    # Rule all runs nothing (its shell command prints as None).
    return [line[len(prefix) :] for line in lines if line.startswith(prefix) and "gianet" in line]


def gianet_argv(command: str) -> list[str]:
    """The gianet arguments of a rule's shell command (its trap and its tee aside)."""
    command = command.removeprefix("trap '' TERM USR1; ")
    words = shlex.split(command.split(" 2>&1 | tee")[0])
    assert words[0] == "gianet", command
    return words[1:]


CONFIGURATIONS = {
    "sid-synth": (),
    "paper": (str(REPO / "configs/paper.yaml"),),
    # SID's released weights named (the test checkpoints, at reduced width): their rules.
    "paper+released": (str(REPO / "configs/paper.yaml"), "released.yaml"),
}
#: The test checkpoints in SID's TF1 format, as sid.released_models names them.
RELEASED = {
    "sid": {
        "released_models": {
            "Sony": str(REPO / "tests/data/sid_tf1/Sony") + "/",
            "Fuji": str(REPO / "tests/data/sid_tf1/Fuji/model.ckpt"),
        }
    }
}


def configfiles_in(workdir: Path, name: str) -> tuple[str, ...]:
    """The configuration's files, the released weights' written into ``workdir``."""
    (workdir / "released.yaml").write_text(json.dumps(RELEASED))
    return tuple(str(workdir / f) if f == "released.yaml" else f for f in CONFIGURATIONS[name])


@pytest.fixture(scope="module", params=list(CONFIGURATIONS))
def jobs(request, tmp_path_factory) -> tuple[tuple[str, ...], list[list[str]]]:
    workdir = tmp_path_factory.mktemp("dry")
    configfiles = configfiles_in(workdir, request.param)
    commands = dry_run_commands(workdir, *configfiles)
    return configfiles, [gianet_argv(command) for command in commands]


def test_every_rule_command_is_one_its_stage_parses(jobs):
    _, argvs = jobs
    top = parser()
    for argv in argvs:
        args = top.parse_args(argv)
        assert args.declared.name == argv[0]


def wildcards_of(argv: list[str], names: tuple[str, ...], params) -> dict:
    """A job's wildcards, read from the file paths its command is handed (folders named by
    camera, variant and ``seed<N>`` or ``sid_released/<protocol>``, or a file named
    ``<camera>_...`` or ``<camera>.zip``)."""
    parts = {part for word in argv for part in Path(word).parts}
    prefixes = {Path(word).name.replace(".", "_").split("_")[0] for word in argv}
    released = [Path(w).parts for w in argv if paths.RELEASED in Path(w).parts[:-1]]
    values = {
        "camera": [c for c in params.cameras if c in parts or c in prefixes],
        "variant": [v for v in params.variants if v in parts],
        "seed": [s for s in params.train.seeds if f"seed{s}" in parts],
        "protocol": sorted({p[p.index(paths.RELEASED) + 1] for p in released} - {"model.pt"}),
    }
    found = {name: values[name] for name in names}
    assert all(len(v) == 1 for v in found.values()), (argv, found)
    return {name: v[0] for name, v in found.items()}


def test_every_job_gets_the_settings_params_builds_for_it(jobs):
    """The rule's settings JSON equals what ``gianet <stage> --params params.yaml
    --configfile ... --<wildcard> ...`` builds: one source of every value."""
    configfiles, argvs = jobs
    params = load_params(REPO / "params.yaml", [Path(f) for f in configfiles])
    top = parser()
    checked = set()
    for argv in argvs:
        stage = STAGES[argv[0]]
        args = top.parse_args(argv)
        if stage.settings is None:
            continue
        stage.settings.model_validate_json(args.settings)  # what the stage reads
        # SID's released weights are evaluated under a protocol, not a variant and seed.
        released = stage.name == "evaluate" and any(paths.RELEASED in w for w in argv)
        view = ReleasedEvaluateJob if released else stage.settings
        given = view.model_validate_json(args.settings)
        wildcards = wildcards_of(argv, view.WILDCARDS, params)
        assert given == view.from_params(params, **wildcards), argv[0]
        if stage.runtime:
            runtime = json.loads(args.runtime)
            threads = runtime.pop("threads")
            assert runtime == params.runtime.model_dump(exclude={"threads"}), argv[0]
            assert 1 <= threads <= max(params.runtime.threads, 16)
        checked.add(argv[0])
    assert {"train", "evaluate", "pack", "report", "cost", "fetch-weights"} <= checked
    if "released.yaml" in " ".join(configfiles):
        assert {"import-sid", "report-released"} <= checked


def test_every_workflow_stage_has_a_rule_and_every_rule_a_stage(tmp_path):
    seen = set()
    for name in CONFIGURATIONS:
        commands = dry_run_commands(tmp_path, *configfiles_in(tmp_path, name))
        seen |= {argv[0] for argv in map(gianet_argv, commands)}
    assert seen == set(STAGES) - TOOLS


def test_no_command_line_option_has_a_default_of_its_own():
    """A setting comes from --settings or --params, never from a default of the command line
    that could disagree with params.yaml."""
    for name, sub in subparsers().items():
        defaults = {
            action.dest: action.default
            for action in sub._actions
            if action.default not in (None, False, [], argparse.SUPPRESS)
        }
        assert defaults == {}, name


def test_a_stage_run_by_hand_builds_its_settings_from_a_params_file(capsys):
    from gianet.cli import main

    code = main(["check-params", str(REPO / "params.yaml"), "--configfile",
                 str(REPO / "configs/paper.yaml")])  # fmt: skip
    assert code == 0 and "valid" in capsys.readouterr().out
    code = main(["cost", "--out", "/nonexistent-folder/cost.json"])
    error = capsys.readouterr().err
    assert code == 2 and "--settings JSON" in error and "--params params.yaml" in error

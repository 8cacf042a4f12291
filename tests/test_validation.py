"""Every constraint that can be checked before work is checked at validation: `gianet
check-params` and `snakemake -n` stop on it, naming the file, the key and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gianet.cli import main
from gianet.domain.cameras import CAMERAS
from gianet.models import FULL_FRAMES
from gianet.stages.models import TrainJob
from tests.conftest import repo_params

REPO = Path(__file__).parents[1]
SID_NET_FIGURE = {"figure_variants": ["sid_net"]}


def check(capsys, tmp_path: Path, override: dict | None = None, text: bytes | None = None):
    """`gianet check-params params.yaml --configfile <override>`: exit code and stderr."""
    extra = tmp_path / "override.yaml"
    if text is not None:
        extra.write_bytes(text)
    else:
        extra.write_text(yaml.safe_dump(override))
    code = main(["check-params", str(REPO / "params.yaml"), "--configfile", str(extra)])
    return code, capsys.readouterr().err


def test_the_repository_configurations_are_valid(capsys):
    assert main(["check-params", str(REPO / "params.yaml")]) == 0
    paper = str(REPO / "configs" / "paper.yaml")
    assert main(["check-params", str(REPO / "params.yaml"), "--configfile", paper]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"train": {"patch": 64}}, "train.patch: variant sid_net_msssim trains with MS-SSIM"),
        (
            {"train": {"multi_size_a": 2, "multi_size_b": [20, 28]}},
            "variant sid_net_msssim_crops trains with MS-SSIM, which needs outputs of at least "
            "161 px, so Sony crops of at least 81 packed pixels; its smallest crop is 40",
        ),
        ({"train": {"patch": 160}, "variants": ["sid_net"], "report": SID_NET_FIGURE}, None),
        (
            {"train": {"patch": 200}, "variants": ["sid_net"], "report": SID_NET_FIGURE},
            "larger than Fuji's sid-synth",
        ),
        ({"train": {"multi_size_b": [16, 32]}}, "crops squares of up to 192 packed pixels"),
        ({"synth": {"height": 500}}, "synth.height: 500 is not a multiple of Fuji's"),
        ({"train": {"lr": float("nan")}}, "train.lr: nan is not a finite number"),
        (
            {"sid": {"archives": {"Sony": {"url": "file:///data/Sony.zip"}}}},
            "sid.archives.Sony.url: 'file:///data/Sony.zip' is not an http(s) URL",
        ),
        ({"sid": {"archives": {"Fuji": {"sha256": "abc"}}}}, "sid.archives.Fuji.sha256"),
        ({"synth": {"scenes": {"train": 10000}}}, "synth.scenes.train: Input should be less than"),
    ],
)
def test_constraints_fail_validation_in_one_line(capsys, tmp_path, override, message):
    code, stderr = check(capsys, tmp_path, override)
    if message is None:  # Fuji frames of 168 packed pixels hold 160-pixel patches
        assert code == 0, stderr
        return
    # One line per problem (a frame too small for the crops may bring a second), naming the file.
    lines = stderr.splitlines()
    assert code == 2 and message in lines[0] and "override.yaml" in lines[0], stderr
    assert all("override.yaml" in line for line in lines[1:]), stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"train: {lr: 1.0e-4}\n\xff\xfe", "not UTF-8 text"),
        (b"train: [unclosed\n", "not valid YAML"),
        (b"- a list\n", "expected a mapping"),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
            b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\ntrain: [*e, *e, *e, *e]\n",
            "holds more than 100000 values",
        ),
    ],
)
def test_params_files_that_are_not_configurations_are_one_line(capsys, tmp_path, text, message):
    code, stderr = check(capsys, tmp_path, text=text)
    assert code == 2 and message in stderr and stderr.count("\n") == 1, stderr


def test_a_params_path_that_is_a_folder_or_missing_is_one_line(capsys, tmp_path):
    assert main(["check-params", str(tmp_path)]) == 2
    assert "is a folder, not a configuration file" in capsys.readouterr().err
    assert main(["check-params", str(tmp_path / "absent.yaml")]) == 2
    assert "no such configuration file" in capsys.readouterr().err


def test_the_camera_table_is_what_table_4_counts_on():
    for name, camera in CAMERAS.items():
        frame = FULL_FRAMES[name]
        assert (frame.height, frame.width) == camera.cost_frame
        assert (frame.in_channels, frame.upscale) == (camera.channels, camera.upscale)
    assert CAMERAS["Fuji"].sid_packed_frame == CAMERAS["Fuji"].cost_frame


def test_snakemake_dry_run_stops_on_an_ms_ssim_patch_below_the_minimum(tmp_path):
    override = {"train": {"patch": 64}}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(override))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n",
         "--configfile", "small.yaml"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    said = dry.stdout + dry.stderr
    assert dry.returncode != 0
    assert "train.patch: variant sid_net_msssim trains with MS-SSIM" in said
    assert "Raise train.patch or drop sid_net_msssim" in said


def test_a_training_job_checks_its_variants_crops_before_any_work(capsys, tmp_path):
    params = repo_params()
    job = json.loads(TrainJob.from_params(params, "Sony", "sid_net_msssim", 0).model_dump_json())
    job["recipe"]["crops"]["patch"] = 64  # as a params file with train.patch 64 would make it
    settings = json.dumps(job)
    code = main(["train", "--manifest", str(tmp_path / "manifest.json"),
                 "--record", str(tmp_path / "record.tsv"),
                 "--model", str(tmp_path / "model.pt"), "--curves",
                 str(tmp_path / "train" / "metrics.json"), "--settings", settings,
                 "--runtime", params.runtime.model_dump_json()])  # fmt: skip
    stderr = capsys.readouterr().err
    assert code == 2 and "--settings: train.patch: variant sid_net_msssim trains" in stderr
    assert stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []

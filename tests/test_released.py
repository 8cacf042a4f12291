"""SID's released weights as a stage and in the workflow: ``gianet import-sid`` run by hand
(the camera alone picks its settings) and as its rule hands it the checkpoint's files, its
checkpoint accepted by evaluate and enhance, one-line errors, the test protocols per camera,
and a workflow that is the same as before wherever ``sid.released_models`` is null."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from gianet.cli import main, parser
from gianet.models.checkpoint import load_model
from gianet.stages.released import (
    ImportJob,
    ReleasedEvaluateJob,
    checkpoint_files,
    protocols,
)
from gianet.training.recipe import recipe_of, sid_released_recipe
from tests.conftest import REPO, repo_params, runtime, write_packed_cache
from tests.test_stages import dry_run_commands, gianet_argv

SID_TF1 = REPO / "tests" / "data" / "sid_tf1"
PAPER = REPO / "configs" / "paper.yaml"


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "Traceback" not in error, error
    return error


# --- gianet import-sid ----------------------------------------------------------------------


def test_import_by_hand_needs_only_the_camera_and_evaluate_and_enhance_accept_it(
    tmp_path, capsys, grbg_raw
):
    out = tmp_path / "model.pt"
    assert (
        main(["import-sid", str(SID_TF1 / "Sony") + "/", "--camera", "Sony", "--out", str(out)])
        == 0
    )
    assert "SID-Net of width 2 for Sony" in capsys.readouterr().out
    model, checkpoint = load_model(out, cfa="bayer")
    # The recipe SID's code followed, at the width the shapes give: evaluate reads its clip.
    assert recipe_of(checkpoint, out) == sid_released_recipe(2)
    # evaluate, as the workflow runs it: settings JSON of the released weights' view.
    packed = np.random.default_rng(0).integers(0, 400, size=(4, 24, 30)).astype(np.uint16)
    truth = np.random.default_rng(1).integers(0, 65535, size=(3, 48, 60)).astype(np.uint16)
    names = ("10003_00_0.1s.dng", "10003_00_10s.dng")
    write_packed_cache(tmp_path / "cache", {"test": [(packed, truth, *names)]})
    settings = ReleasedEvaluateJob.from_params(repo_params(), "Sony", "all")
    cache = tmp_path / "cache"
    evaluate = ["evaluate", "--model", str(out), "--manifest", str(cache / "manifest.json"),
                "--record", str(cache / "record.tsv"), "--weights",
                str(tmp_path / "torch/status.json"), "--csv", str(tmp_path / "r/metrics.csv"),
                "--summary", str(tmp_path / "r/summary.json"), "--samples",
                str(tmp_path / "r/samples"), "--settings", settings.model_dump_json(),
                "--runtime", runtime(progress=False).model_dump_json()]  # fmt: skip
    assert main(evaluate) == 0
    summary = json.loads((tmp_path / "r/summary.json").read_text())
    assert (summary["variant"], summary["seed"], summary["n_images"]) == ("sid_net", None, 1)
    assert summary["lpips"] is None and summary["protocol"]["training"]["flips"] == "sid-before-fix"
    # enhance, on a small real raw.
    image = tmp_path / "enhanced.png"
    enhance = ["enhance", str(grbg_raw), "--checkpoint", str(out), "--out", str(image),
               "--ratio", "100", "--device", "cpu"]  # fmt: skip
    assert main(enhance) == 0
    assert image.stat().st_size > 1000


def test_the_files_a_rule_hands_import_what_the_prefix_imports(tmp_path):
    files = checkpoint_files(SID_TF1 / "Fuji")
    assert [path.name for path in files] == ["model.ckpt.index", "model.ckpt.data-00000-of-00001"]
    assert checkpoint_files(SID_TF1 / "Fuji" / "model.ckpt") == files
    by_files, by_prefix = tmp_path / "a.pt", tmp_path / "b.pt"
    common = ["--camera", "Fuji", "--settings"]
    assert main(["import-sid", *map(str, files), "--out", str(by_files), "--settings",
                 ImportJob(camera="Fuji").model_dump_json()]) == 0  # fmt: skip
    assert main(["import-sid", str(SID_TF1 / "Fuji/model.ckpt"), "--out", str(by_prefix),
                 *common[:2]]) == 0  # fmt: skip
    a, b = load_model(by_files)[1]["state_dict"], load_model(by_prefix)[1]["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_files_of_a_checkpoint_not_there_yet_are_named_for_snakemake(tmp_path):
    assert checkpoint_files(f"{tmp_path}/checkpoint/Sony/") == [
        tmp_path / "checkpoint/Sony/model.ckpt.index",
        tmp_path / "checkpoint/Sony/model.ckpt.data-00000-of-00001",
    ]
    assert (
        checkpoint_files(tmp_path / "x" / "model.ckpt.index")[0] == tmp_path / "x/model.ckpt.index"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{tmp}/none/model.ckpt", "--camera", "Sony"],
         r"none/model.ckpt.index: no such file; .* download_models.py"),
        (["{tf}/Sony", "--camera", "Fuji"],
         r"4-channel input and 12 output channels; Fuji's xtrans input needs 9 and 27"),
        (["{tf}/Sony", "--camera", "Nikon"], r"--camera: Input should be 'Sony' or 'Fuji'"),
        (["{tf}/Sony"], r"give the stage's settings: .*\(or --camera \.\.\. alone\)"),
        (["{tf}/Sony", "{tf}/Fuji", "--camera", "Sony"], r"the files of 2 checkpoints"),
        (["{index_only}", "--camera", "Sony"],
         r"model.ckpt.data-00000-of-00001: no such file, but g_conv1_1/weights is stored there"),
    ],
    ids=["missing", "other-camera", "unknown-camera", "no-camera", "two", "no-data"],
)  # fmt: skip
def test_a_checkpoint_that_does_not_fit_is_one_line_naming_it(tmp_path, capsys, arguments, message):
    index_only = tmp_path / "only"
    index_only.mkdir()
    shutil.copy(SID_TF1 / "Sony" / "model.ckpt.index", index_only)
    words = [
        a.format(tmp=tmp_path, tf=SID_TF1, index_only=index_only / "model.ckpt") for a in arguments
    ]
    out = tmp_path / "out" / "model.pt"
    assert main(["import-sid", *words, "--out", str(out)]) == 2
    error = one_line_error(capsys)
    assert error.startswith("gianet import-sid: error: ")
    assert __import__("re").search(message, error), error
    assert not out.exists()


def test_a_view_needing_params_still_refuses_its_wildcards_alone(tmp_path, capsys):
    argv = ["evaluate", "--model", "m.pt", "--manifest", "m.json", "--record", "r.tsv",
            "--weights", "w.json", "--csv", str(tmp_path / "c.csv"), "--summary",
            str(tmp_path / "s.json"), "--samples", str(tmp_path), "--camera", "Sony",
            "--variant", "sid_net", "--seed", "0"]  # fmt: skip
    assert main(argv) == 2
    error = one_line_error(capsys)
    assert "--params params.yaml" in error and "alone" not in error


# --- The protocols ---------------------------------------------------------------------------


def test_protocols_per_camera_and_their_test_selections():
    paper = repo_params(PAPER)
    assert protocols(paper, "Sony") == ["all", "first", "all_every_scene", "first_every_scene"]
    assert protocols(paper, "Fuji") == ["all", "first"]  # Fuji leaves no scene out
    assert protocols(repo_params(), "Sony") == ["all", "first"]  # sid-synth has none to leave
    tests = {
        p: ReleasedEvaluateJob.from_params(paper, "Sony", p).test for p in protocols(paper, "Sony")
    }
    assert {p: (t.exposures, t.exclude_scenes) for p, t in tests.items()} == {
        "all": ("all", [10034, 10045, 10172]),
        "first": ("first", [10034, 10045, 10172]),
        "all_every_scene": ("all", []),
        "first_every_scene": ("first", []),
    }
    # The published scores are PSNR and SSIM: nothing more is computed.
    assert ReleasedEvaluateJob.from_params(paper, "Fuji", "all").metrics == ["psnr", "ssim"]


# --- The workflow -----------------------------------------------------------------------------


def settings_by_job(commands: list[str]) -> dict[tuple[str, ...], str]:
    """Each job's settings JSON, keyed by its stage and first output file."""
    jobs = {}
    for command in commands:
        args = parser().parse_args(gianet_argv(command))
        first = getattr(args, args.declared.outputs[0].name)
        if getattr(args, "settings", None) is not None:
            jobs[(args.stage, str(first[0] if isinstance(first, list) else first))] = args.settings
    return jobs


def test_with_released_models_null_nothing_else_in_the_dag_changes(tmp_path):
    """Naming the released weights adds their jobs and the report's table, and changes no
    other job's settings (so, null, the DAG is exactly what it was)."""
    released = tmp_path / "released.yaml"
    released.write_text(json.dumps({"sid": {"released_models": {"Sony": str(SID_TF1 / "Sony")}}}))
    plain = dry_run_commands(tmp_path, str(PAPER))
    named = dry_run_commands(tmp_path, str(PAPER), str(released))
    before, after = settings_by_job(plain), settings_by_job(named)
    assert not any("sid_released" in command or "import-sid" in command for command in plain)
    assert {key: after[key] for key in before} == before
    added = sorted(key[0] for key in set(after) - set(before))
    assert added == ["evaluate"] * 4 + ["import-sid", "report-released"]

    def released_given(commands: list[str]) -> list[str]:
        report = next(argv for argv in map(gianet_argv, commands) if argv[0] == "report")
        return report[report.index("--released") + 1 : report.index("--settings")]

    assert released_given(plain) == []
    assert sorted(released_given(named)) == sorted(
        f"results/sid/Sony/sid_released/{p}/summary.json"
        for p in ("all", "first", "all_every_scene", "first_every_scene")
    )
    assert any("report/sid/table_released.tex" in command for command in named)
    assert not any("table_released" in command for command in plain)

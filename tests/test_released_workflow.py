"""SID's released weights through the whole DAG, on a tiny sid-synth run: with
``sid.released_models.Sony`` naming a checkpoint in SID's TF1 format (the test checkpoint, of
reduced width), the workflow imports it, evaluates it under both test protocols (sid-synth
leaves no scene out, so the protocols alone: all exposures and the ``_00`` shots), renders its
table alone and in the report; a changed checkpoint imports again and reruns only what
follows from it."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from gianet.report.document import latex_engine
from gianet.settings import deep_merge
from tests.conftest import REPO, tiny_config
from tests.test_pipeline import scheduled, snakemake
from tests.test_sid_import import random_sid_checkpoint

SID_TF1 = REPO / "tests" / "data" / "sid_tf1"


@pytest.fixture(scope="module")
def released_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("released")
    shutil.copytree(SID_TF1 / "Sony", workdir / "checkpoint" / "Sony")
    config = tiny_config(cameras=["Sony"], sid={"released_models": {"Sony": "checkpoint/Sony/"}})
    # One variant is enough beside the released weights.
    config |= {"variants": ["sid_net"], "report": {"figure_variants": ["sid_net"]}}
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_the_dag_imports_evaluates_and_reports_the_released_weights(released_run):
    results = released_run / "results" / "sid-synth" / "Sony" / "sid_released"
    assert sorted(p.name for p in results.iterdir()) == ["all", "first"]
    rows = {p: pd.read_csv(results / p / "metrics.csv") for p in ("all", "first")}
    assert len(rows["all"]) == 4 and list(rows["first"]["shot"]) == [0, 0]
    summary = json.loads((results / "first" / "summary.json").read_text())
    assert summary["n_images"] == 2 and summary["psnr"] == pytest.approx(
        rows["first"]["psnr"].mean()
    )
    assert summary["protocol"]["training"]["width"] == 2  # the test checkpoint's, from its shapes
    report = released_run / "report" / "sid-synth"
    alone = pd.read_csv(report / "released_weights.csv")
    pairs = alone[(alone["column"] == "n_images") & (alone["ours_status"] == "value")]
    assert list(zip(pairs["model"], pairs["ours"], pairs["paper"], strict=True)) == [
        ("all", 4.0, 598),
        ("first", 2.0, 93),
    ]
    assert "synthetic" in (report / "released_weights.html").read_text()
    tables = (report / "tables.tex").read_text()
    assert "all exposures & " in tables and "cydonia999" in tables
    assert r"\input{table_released.tex}" in (report / "report.tex").read_text()
    log = (released_run / "logs" / "sid-synth" / "import_sid_Sony.log").read_text()
    assert "SID-Net of width 2 for Sony" in log


@pytest.mark.slow
def test_a_changed_checkpoint_imports_again_and_reruns_only_what_follows(released_run):
    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(snakemake(released_run, "-n"))
    random_sid_checkpoint(released_run / "checkpoint" / "Sony" / "model.ckpt", "Sony", 2, seed=5)
    report = {"report": 1, "all": 1} | ({"report_pdf": 1} if latex_engine() else {})
    expected = {"import_sid": 1, "evaluate_released": 2, "report_released": 1} | report
    dry = snakemake(released_run, "-n", "--quiet", "rules")
    counts = scheduled(dry)
    counts.pop("total", None)
    assert counts == expected, dry.stdout[-2000:]
    # The same checkpoint named by its prefix instead of its folder: nothing new to import.
    changed = {"sid": {"released_models": {"Sony": "checkpoint/Sony/model.ckpt"}}}
    config = yaml.safe_load((released_run / "tiny.yaml").read_text())
    (released_run / "prefix.yaml").write_text(yaml.safe_dump(deep_merge(config, changed)))
    again = scheduled(snakemake(released_run, "-n", "--quiet", "rules", config="prefix.yaml"))
    again.pop("total", None)
    assert again == expected

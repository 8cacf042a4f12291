"""The report stage as a whole: it writes exactly its declared outputs, from runs of one or
several seeds, and refuses inputs that do not match."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gianet.report.build import build_report
from gianet.report.outputs import report_outputs, table_keys
from gianet.report.runs import ReportInputError, Run, runs_of
from gianet.report.settings import ReportSettings
from tests.conftest import report_settings
from tests.report_fixtures import build_synth_report, outputs_in, write_costs, write_run, write_runs

REPO = Path(__file__).parents[1]
CAMERAS = ["Sony", "Fuji"]
FIGURE = report_settings(figure_variants=["sid_net", "gia_net"], first_shot_tables=False)


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def build(root: Path, runs: list[Run], settings: ReportSettings = FIGURE, **options):
    return build_synth_report(root, runs, settings, **options)


def test_the_report_writes_exactly_its_outputs(tmp_path: Path) -> None:
    runs = write_runs(tmp_path / "results")
    before = files_under(tmp_path)
    outputs, report = build(tmp_path, runs)
    written = files_under(tmp_path) - before - {tmp_path / "cost.json"}
    assert written == set(outputs.values())
    assert [t.key for t in report.tables] == table_keys(False)
    headline = json.loads(outputs["headline"].read_text())
    summary = json.loads(runs[0].summary.read_text())
    assert headline["sid-synth"]["Sony"]["sid_net"] == {
        "psnr": summary["psnr"],
        "ssim": summary["ssim"],
    }
    per_image = pd.read_csv(outputs["per_image"], sep="\t")
    assert {"psnr_sid_net", "psnr_gia_net", "ssim_gia_net"} <= set(per_image.columns)
    curves = pd.read_csv(outputs["curve_table_psnr"], sep="\t")
    assert sorted(curves["run"].unique()) == sorted(f"{r.camera}/{r.variant}" for r in runs)


def test_seeds_reach_the_tables_the_headline_and_the_curves(tmp_path: Path) -> None:
    runs = [
        write_run(tmp_path / "results", camera, variant, seed=seed)
        for camera in CAMERAS
        for variant in ("sid_net", "gia_net")
        for seed in (0, 1)
    ]
    outputs, report = build(tmp_path, runs)
    means = {}
    for run in runs:
        means.setdefault((run.camera, run.variant), []).append(
            json.loads(run.summary.read_text())["psnr"]
        )
    headline = json.loads(outputs["headline"].read_text())["sid-synth"]
    for (camera, variant), values in means.items():
        assert headline[camera][variant]["psnr"] == pytest.approx(sum(values) / 2, abs=1e-12)
    curves = pd.read_csv(outputs["curve_table_loss"], sep="\t")
    assert "Sony/gia_net/seed1" in set(curves["run"])
    cells = pd.read_csv(outputs["tables_csv"])
    gia = cells[(cells["table"] == "table1") & (cells["variant"] == "gia_net")]
    assert set(gia[gia["ours_status"] == "value"]["seeds"]) == {2}


def test_outputs_are_the_declared_names(tmp_path: Path) -> None:
    outputs = report_outputs("report/sid", ["Sony"], first_shot_tables=True, pdf=True)
    assert all(key.isidentifier() for key in outputs)
    assert outputs["table2_first"] == Path("report/sid/table2_first.tex")
    assert outputs["pdf"] == Path("report/sid/report.pdf")
    assert outputs["per_image"] == Path("curves/test_per_image.tsv")
    assert outputs["headline"] == Path("metrics.json")
    assert {"figure_Sony", "curves_Sony", "scatter_Sony"} <= set(outputs)
    plain = report_outputs("report/sid", ["Sony"], first_shot_tables=False)
    assert set(outputs) - set(plain) == {"pdf", "table1_first", "table2_first", "table3_first"}
    runs = write_runs(tmp_path / "results")
    wrong = outputs_in(tmp_path, first_shot_tables=True)
    del wrong["scatter_Fuji"]
    with pytest.raises(ReportInputError, match=r"missing \['scatter_Fuji'\]"):
        build_report(
            runs,
            dataset="sid-synth",
            cameras=CAMERAS,
            costs=write_costs(tmp_path / "cost.json"),
            outputs=wrong,
            settings=report_settings(),
        )


@pytest.mark.parametrize(
    "dataset, settings, message",
    [
        ("sid", FIGURE, "--dataset sid, but the evaluations measured sid-synth"),
        (
            "sid-synth",
            report_settings(figure_variants=["sid_net", "gia_l1"], first_shot_tables=False),
            "gia_l1 was not run for Sony",
        ),
        (
            "sid-synth",
            report_settings(figure_images=["nonexistent"], first_shot_tables=False),
            "report.figure_images: nonexistent not saved",
        ),
    ],
)
def test_inputs_that_do_not_match_are_refused_naming_the_fix(tmp_path, dataset, settings, message):
    runs = write_runs(tmp_path / "results")
    with pytest.raises(ReportInputError, match=message):
        build_report(
            runs,
            dataset=dataset,
            cameras=CAMERAS,
            costs=write_costs(tmp_path / "cost.json"),
            outputs=outputs_in(tmp_path, first_shot_tables=False),
            settings=settings,
        )


def test_runs_are_matched_by_folder_and_named_by_their_summaries(tmp_path) -> None:
    written = [
        write_run(tmp_path, camera, variant, seed=seed)
        for camera in CAMERAS
        for variant in ("sid_net", "gia_net")
        for seed in (0, 1)
    ]
    shuffled = list(reversed(written))
    runs = runs_of(
        [r.summary for r in shuffled], [r.metrics_csv for r in written], [r.curves for r in written]
    )
    assert sorted(runs, key=lambda r: str(r.summary)) == sorted(
        written, key=lambda r: str(r.summary)
    )
    assert {r.name for r in runs} >= {"Sony/sid_net/seed0", "Fuji/gia_net/seed1"}
    with pytest.raises(ReportInputError, match="do not describe the same runs"):
        runs_of([r.summary for r in written], [r.metrics_csv for r in written[1:]], [])


def test_settings_read_every_report_key() -> None:
    custom = report_settings(
        figure_variants=["sid_net"],
        first_shot_tables=False,
        figure_images=["10003_00_0.1s"],
        figure_crops={"10003_00_0.1s": [[0.1, 0.2]]},
        crop_size=0.3,
        crops_per_image=2,
        bootstrap_resamples=500,
        bootstrap_seed=4,
        confidence=0.9,
    )
    assert custom.crops.corners == {"10003_00_0.1s": ((0.1, 0.2),)}
    assert (custom.crops.size, custom.crops.per_image) == (0.3, 2)
    assert (custom.bootstrap.resamples, custom.bootstrap.seed) == (500, 4)
    assert custom.bootstrap.confidence == 0.9 and custom.figure_images == ("10003_00_0.1s",)

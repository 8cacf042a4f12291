"""The table of SID's released weights: each evaluation beside the published score of the same
weights under the same exposures, with the difference and both pair counts; in the report
only when released weights were evaluated; rendered as LaTeX, HTML and data."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gianet import paths
from gianet.report import render_data, render_html, render_latex
from gianet.report.build import build_report, released_table_of
from gianet.report.model import Status
from gianet.report.outputs import report_outputs, table_keys
from gianet.report.released import published, read_released, released_table
from gianet.report.runs import ReportInputError
from tests.conftest import report_settings
from tests.report_fixtures import write_costs, write_runs

SONY_OUT = [10034, 10045, 10172]
#: (camera, protocol folder, exposures, scenes out, PSNR, SSIM, pairs) of made-up evaluations.
EVALUATIONS = [
    ("Sony", "all", "all", SONY_OUT, 28.71, 0.7962, 562),
    ("Sony", "first", "first", SONY_OUT, 28.51, 0.7811, 88),
    ("Sony", "all_every_scene", "all", [], 28.86, 0.7978, 598),
    ("Sony", "first_every_scene", "first", [], 28.57, 0.7830, 93),
    ("Fuji", "all", "all", [], 27.02, 0.7240, 524),
    ("Fuji", "first", "first", [], 26.60, 0.7041, 94),
]


def write_released(root: Path, dataset: str = "sid", evaluations=EVALUATIONS) -> list[Path]:
    """Evaluation summaries of SID's released weights, as ``gianet evaluate`` writes them."""
    written = []
    for camera, protocol, exposures, out, psnr, ssim, pairs in evaluations:
        folder = root / "results" / dataset / camera / paths.RELEASED / protocol
        folder.mkdir(parents=True)
        summary = {
            "dataset": dataset,
            "camera": camera,
            "variant": "sid_net",
            "seed": None,
            "n_images": pairs,
            "psnr": psnr,
            "ssim": ssim,
            "lpips": None,
            "pieapp": None,
            "unavailable": {},
            "protocol": {"test_exposures": exposures, "exclude_scenes": out, "levels": "sid"},
        }
        (folder / "summary.json").write_text(json.dumps(summary))
        written.append(folder / "summary.json")
    return written


def test_published_scores_are_the_ports_and_sids_with_their_source():
    """The numbers of the port's README (cydonia999/Learning_to_See_in_the_Dark_PyTorch) and
    of SID's paper, each row naming its source."""
    scores = {key: (row["psnr"], row["ssim"], row["pairs"]) for key, row in published().items()}
    assert scores == {
        ("sony", "all", "port"): ("28.88", "0.7980", "598"),
        ("sony", "first", "port"): ("28.59", "0.7831", "93"),
        ("fuji", "all", "port"): ("27.01", "0.7241", "524"),
        ("fuji", "first", "port"): ("26.61", "0.7040", "94"),
        ("sony", "", "paper"): ("28.88", "0.787", ""),
        ("fuji", "", "paper"): ("26.61", "0.680", ""),
    }
    for (_, _, source), row in published().items():
        assert ("cydonia999" if source == "port" else "Chen et al.") in row["note"]


def test_each_evaluation_sits_beside_the_published_score_of_its_exposures(tmp_path):
    table = released_table_of(write_released(tmp_path), ["Sony", "Fuji"], "sid")
    assert table.key == "table_released" and table.published_header == "published"
    sony, fuji = table.blocks
    assert [row.label for row in sony.rows] == [
        "all exposures, every scene",
        "all exposures, 3 scenes out",
        "_00 shots, every scene",
        "_00 shots, 3 scenes out",
        "SID's paper",
    ]
    # Fuji leaves no scene out: its rows are the protocols alone.
    assert [row.label for row in fuji.rows] == ["all exposures", "_00 shots", "SID's paper"]
    cells = {(b.camera, r.model, c.key): cell for b, r, c, cell in table.entries()}
    out = cells["Sony", "all", "n_images"]
    assert (out.ours.mean, out.paper.text, out.difference) == (562, "598", -36)
    psnr = cells["Sony", "all_every_scene", "psnr"]
    assert psnr.paper.text == "28.88" and psnr.difference == pytest.approx(-0.02)
    assert cells["Fuji", "first", "ssim"].difference == pytest.approx(0.0001)
    paper = cells["Sony", "SID's paper", "psnr"]
    assert paper.ours.status is Status.QUOTED and paper.paper.text == "28.88"
    assert cells["Fuji", "SID's paper", "n_images"].paper.status is Status.NOT_REPORTED
    assert "scenes 10034, 10045, 10172 out" in table.protocol


def test_rendered_as_latex_html_and_data(tmp_path):
    table = released_table_of(write_released(tmp_path), ["Sony", "Fuji"], "sid")
    latex = render_latex.render_table(table)
    assert "ours & published & $\\Delta$" in latex
    assert "28.71 & 28.88 & $-$0.17" in latex and "562 & 598 & $-$36" in latex
    assert r"SID's paper$^\dagger$ &  & 26.61 &" in latex
    page = render_html.render_page([table], "released")
    assert "<th>published</th>" in page and "cydonia999" in page
    rows = list(csv.DictReader(render_data.tables_csv([table]).splitlines()))
    pairs = [r for r in rows if r["column"] == "n_images" and r["model"] == "first"]
    assert [(r["camera"], r["ours"], r["paper"]) for r in pairs] == [
        ("Sony", "88.0", "93"),
        ("Fuji", "94.0", "94"),
    ]
    assert render_data.tables_json([table], "sid")["tables"][0]["number"] is None


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on PATH")
def test_the_latex_compiles_and_fits_the_text_width(tmp_path):
    table = released_table_of(write_released(tmp_path), ["Sony", "Fuji"], "sid")
    (tmp_path / "table.tex").write_text(render_latex.render_table(table))
    (tmp_path / "doc.tex").write_text(
        "\\documentclass[10pt]{article}\\usepackage{booktabs}\\usepackage{graphicx}"
        "\\begin{document}\\input{table.tex}\\end{document}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "gianet-fit: table_released" in (tmp_path / "doc.log").read_text()


def test_on_sid_synth_the_numbers_are_said_to_be_synthetic(tmp_path):
    sony = [e for e in EVALUATIONS if e[0] == "Sony" and not e[3]]
    table = released_table_of(write_released(tmp_path, "sid-synth", sony), ["Sony"], "sid-synth")
    assert table.ours_header == "synth."
    assert any("not on SID" in note for note in table.notes)
    assert [row.label for row in table.blocks[0].rows] == [
        "all exposures",
        "_00 shots",
        "SID's paper",
    ]


def test_unreadable_foreign_or_absent_evaluations_are_refused(tmp_path):
    summaries = write_released(tmp_path)
    with pytest.raises(ReportInputError, match="not measured on sid-synth"):
        released_table_of(summaries, ["Sony"], "sid-synth")
    with pytest.raises(ReportInputError, match="no evaluation of SID's released weights"):
        released_table(read_released(summaries[4:]), ["Sony"], "sid")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"dataset": "sid"}))
    with pytest.raises(ReportInputError, match=r"broken.json: lacks \['camera'"):
        read_released([broken])


def test_the_report_holds_the_table_only_when_released_weights_were_evaluated(tmp_path):
    runs = write_runs(tmp_path / "runs")
    settings = report_settings(figure_variants=["sid_net", "gia_net"], first_shot_tables=False)
    plain = report_outputs("r", ["Sony", "Fuji"], first_shot_tables=False)
    assert "table_released" not in plain and "table_released" not in table_keys(False)
    released = write_released(tmp_path, "sid-synth", [e for e in EVALUATIONS if not e[3]])
    outputs = report_outputs(
        tmp_path / "report", ["Sony", "Fuji"], first_shot_tables=False, released=True, top=tmp_path
    )
    assert set(outputs) == set(plain) | {"table_released"}
    report = build_report(
        runs,
        dataset="sid-synth",
        cameras=["Sony", "Fuji"],
        costs=write_costs(tmp_path / "cost.json"),
        outputs=outputs,
        settings=settings,
        released=released,
    )
    assert [t.key for t in report.tables] == table_keys(False, released=True)
    assert "all exposures" in outputs["table_released"].read_text()
    assert r"\input{table_released.tex}" in outputs["report_tex"].read_text()
    assert "cydonia999" in outputs["tables_html"].read_text()
    keys = {t["key"] for t in json.loads(outputs["tables_json"].read_text())["tables"]}
    assert "table_released" in keys
    with pytest.raises(ReportInputError, match="unknown \\['table_released'\\]"):
        build_report(
            runs,
            dataset="sid-synth",
            cameras=["Sony", "Fuji"],
            costs=tmp_path / "cost.json",
            outputs=outputs,
            settings=settings,
        )

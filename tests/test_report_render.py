"""The renderings: LaTeX that is valid and fits, HTML without LaTeX, CSV and JSON; every
number printed equals the file it came from; the PDF where an engine exists."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from gianet.report import document
from gianet.report.document import LatexError, compile_pdf, latex_engine
from gianet.report.model import Column
from gianet.report.render_latex import SYMBOLS, latex_text
from tests.conftest import report_settings
from tests.report_fixtures import build_synth_report, write_run

CAMERAS = ["Sony", "Fuji"]
VARIANTS = ("sid_net", "sid_net_deeper", "gia_l1", "gia_net", "dncnn")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A whole report of five variants on both cameras, gia_net with three seeds, LPIPS
    unavailable for DnCNN."""
    root = tmp_path_factory.mktemp("report")
    runs = []
    for camera in CAMERAS:
        for variant in VARIANTS:
            seeds = (0, 1, 2) if variant == "gia_net" else (None,)
            for seed in seeds:
                unavailable = {"lpips": "weights missing"} if variant == "dncnn" else None
                metrics = ("psnr", "ssim") if variant == "dncnn" else ("psnr", "ssim", "lpips")
                runs.append(
                    write_run(
                        root / "results",
                        camera,
                        variant,
                        seed=seed,
                        metrics=metrics,
                        unavailable=unavailable,
                    )
                )
    settings = report_settings(figure_variants=["sid_net", "gia_l1", "gia_net"])
    outputs, report = build_synth_report(root, runs, settings)
    return root, outputs, report


#: A two-line cell of the statistics (render_latex.stacked).
STACKED = re.compile(r"\\begin\{tabular\}\{@\{\}r@\{\}\}(.*?)\\end\{tabular\}")


def structure(latex: str) -> None:
    """Environments nest, braces balance, booktabs rules are in order, no \\hline."""
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+)\}", latex):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} does not close its begin"
    assert not stack, f"unclosed environments {stack}"
    unescaped = re.sub(r"\\[{}]", "", latex)
    assert unescaped.count("{") == unescaped.count("}")
    latex = STACKED.sub("", latex)
    assert latex.count(r"\toprule") == latex.count(r"\bottomrule") == latex.count("tabular}") // 2
    assert r"\hline" not in latex


def rows_of(latex: str) -> list[list[str]]:
    """The body rows of every tabular, each checked to span all of its columns."""
    rows = []
    latex = STACKED.sub(lambda m: m.group(1).replace("\\\\", " / "), latex)
    for tabular in re.findall(r"\\begin\{tabular\}(.*?)\\end\{tabular\}", latex, re.S):
        spec = re.match(r"\{@\{\}l\*\{(\d+)\}\{(r+)\}@\{\}\}", tabular)
        n_columns = 1 + int(spec.group(1)) * len(spec.group(2))
        for line in tabular.splitlines():
            if not line.endswith(r"\\"):
                continue
            cells = [c.strip() for c in re.split(r"(?<!\\)&", line.removesuffix(r"\\"))]
            spans = [
                int(m.group(1)) if (m := re.match(r"\\multicolumn\{(\d+)\}", c)) else 1
                for c in cells
            ]
            assert sum(spans) == n_columns, f"row of {sum(spans)} of {n_columns} columns: {line}"
            rows.append(cells)
    return rows


def test_latex_tables_are_valid_and_hold_no_raw_unicode_symbol(built) -> None:
    _, outputs, report = built
    for table in report.tables:
        latex = outputs[table.key].read_text()
        structure(latex)
        rows_of(latex)
        assert not set(SYMBOLS) & set(latex), table.key
        assert r"\caption{" in latex and "gianet-fit" in latex
    combined = outputs["tables"].read_text()
    assert combined.count(r"\begin{table}") == len(report.tables) == 7
    assert latex_text(r"a_b & 50% #1 $x$ {y} ~ ^ \ γ×Δ–") == (
        r"a\_b \& 50\% \#1 \$x\$ \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{} "
        r"$\gamma$$\times$$\Delta$--"
    )


def test_html_page_holds_every_table_and_no_latex(built) -> None:
    _, outputs, report = built
    page = outputs["tables_html"].read_text()
    assert page.count("<table>") == 7 and page.count('<table class="statistics">') == 6
    assert page.count('<td class="note"') == 7
    assert not re.search(r"\\[a-zA-Z]|\$", page.split("</style>", 1)[1])
    assert "<em>synthetic</em>" in page and "±" in page and "<strong>" in page
    assert "http" not in page and "<link" not in page and "<script" not in page  # self-contained


def test_csv_and_json_hold_every_cell_and_comparison(built) -> None:
    _, outputs, report = built
    cells = list(csv.DictReader(io.StringIO(outputs["tables_csv"].read_text())))
    assert len(cells) == sum(1 for table in report.tables for _ in table.entries())
    comparisons = pd.read_csv(outputs["comparisons"])
    assert len(comparisons) == sum(len(table.comparisons) for table in report.tables)
    measured = comparisons.dropna(subset=["mean"])
    assert (
        measured["wins_a"] + measured["wins_b"] + measured["ties"] == measured["n_images"]
    ).all()
    assert (measured["low"] <= measured["mean"]).all() and (
        measured["mean"] <= measured["high"]
    ).all()
    document_ = json.loads(outputs["tables_json"].read_text(), parse_constant=pytest.fail)
    assert [t["key"] for t in document_["tables"]] == [t.key for t in report.tables]


def recomputed(source_files: list[str], column: str) -> float:
    """A value of ours from the files it came from: summaries' means or the per-image CSVs'
    _00 means; the mean over seeds."""
    values = []
    for source in source_files:
        if source.endswith("summary.json"):
            values.append(json.loads(Path(source).read_text())[column])
        elif source.endswith("metrics.csv"):
            rows = pd.read_csv(source)
            values.append(rows[rows["shot"] == 0][column].mean())
        else:
            raise AssertionError(f"{source}: not a metrics file")
    return math.fsum(values) / len(values)


def test_every_number_of_ours_equals_the_file_it_came_from(built) -> None:
    """Each of our values (tables.json) is recomputed from its source files, and the LaTeX
    and HTML print it, rounded, in its row."""
    _, outputs, report = built
    document_ = json.loads(outputs["tables_json"].read_text())
    html = outputs["tables_html"].read_text()
    checked = 0
    for table, data in zip(report.tables, document_["tables"], strict=True):
        latex_rows = rows_of(outputs[table.key].read_text())
        columns = [c["key"] for c in data["columns"]]
        for record in data["cells"]:
            if record["ours_status"] != "value" or table.key == "table4_cost":
                continue
            sources = record["sources"].split(";")
            assert record["ours"] == pytest.approx(recomputed(sources, record["column"]), abs=1e-9)
            column = next(c for c in table.columns if c.key == record["column"])
            printed = latex_text(column.format(record["ours"]))
            label = latex_text(record["label"])
            index = 1 + 3 * columns.index(record["column"])
            # Rows of one label repeat per camera: find this camera's by its block order.
            candidates = [r for r in latex_rows if r[0] == label]
            row = candidates[[b.camera for b in table.blocks].index(record["camera"])]
            assert re.sub(r"\\textbf\{(.*?)\}|\{\\tiny.*\}", r"\1", row[index]) == printed
            assert column.format(record["ours"]) in html
            checked += 1
    assert checked > 50


def test_the_cost_table_prints_the_cost_files_counts(built) -> None:
    root, outputs, report = built
    costs = {(r["camera"], r["variant"]): r for r in json.loads((root / "cost.json").read_text())}
    table = report.tables[-1]
    for block, row, column, cell in table.entries():
        key, scale = {"params_millions": ("params", 1e-6), "flops_billions": ("flops", 1e-9)}.get(
            column.key, (column.key, 1.0)
        )
        assert cell.ours.mean == costs[block.camera, row.variant][key] * scale
    latex = outputs["table4_cost"].read_text()
    assert "1110.60" in latex and "8.29" in latex


def test_seeds_print_mean_and_standard_deviation(built) -> None:
    _, outputs, report = built
    latex = outputs["table1"].read_text()
    assert re.search(r"\d+\.\d\d\}?\{\\tiny\$\\pm\$0\.\d\d\}", latex)  # GIA-Net's PSNR ± sd


def test_no_engine_writes_no_pdf_and_says_so_in_one_line(built, monkeypatch, capsys) -> None:
    _, outputs, _ = built
    monkeypatch.setattr(document.shutil, "which", lambda name: None)
    pdf = outputs["report_tex"].with_name("absent.pdf")
    assert compile_pdf(outputs["report_tex"], pdf) is None
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "no LaTeX engine on PATH" in said[0]
    assert not pdf.exists()


requires_engine = pytest.mark.skipif(
    latex_engine() is None,
    reason="no LaTeX engine on PATH (latexmk/pdflatex or tectonic; README: the PDF report)",
)


@requires_engine
def test_report_compiles_and_every_table_fits_the_text_width(built) -> None:
    _, outputs, _ = built
    tex = outputs["report_tex"]
    source = tex.read_text()
    for key in ("table1", "table3_first", "table4_cost", "figure_Sony", "scatter_Fuji"):
        assert outputs[key].name in source
    compiled = compile_pdf(tex, outputs["report_tex"].with_name("report.pdf"))
    assert compiled.pdf.read_bytes().startswith(b"%PDF")
    assert "Overfull \\hbox" not in compiled.log
    widths = re.findall(r"gianet-fit: (\S+) ([\d.]+)pt in ([\d.]+)pt", compiled.log)
    assert len(widths) == 13  # 7 tables, 6 statistics
    for key, natural, line in widths:
        # Wider boxes are scaled to the line; none so much that it stops being legible.
        assert float(line) / float(natural) > 0.65 or float(natural) <= float(line), key
    assert "Float too large" not in compiled.log
    leftovers = sorted(p.name for p in tex.parent.iterdir() if p.suffix in (".aux", ".log"))
    assert not leftovers  # the engine's files stay in its temporary folder


@requires_engine
def test_a_latex_error_names_the_engine_and_the_error(tmp_path) -> None:
    tex = tmp_path / "broken.tex"
    tex.write_text("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    with pytest.raises(LatexError, match="Undefined control sequence"):
        compile_pdf(tex, tmp_path / "broken.pdf")
    assert not (tmp_path / "broken.pdf").exists()


def test_column_format_signs_and_infinities() -> None:
    column = Column("psnr", "PSNR", True, 2)
    assert column.format(-1.234, signed=True) == "−1.23"
    assert column.format(0.5, signed=True) == "+0.50"
    assert column.format(math.inf) == "∞" and column.format(None) == "–"
    assert shutil.which  # keep the import used for monkeypatching above

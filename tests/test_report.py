"""The report: LaTeX tables beside the paper's numbers, and the figure grid."""

from __future__ import annotations

import csv
import json
import math
import re
from importlib.resources import files
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from gianet.report import figures
from gianet.report.figures import Panel, plot_grid, sample_rows
from gianet.report.tables import (
    cost_table,
    escape_latex,
    first_shot_summaries,
    protocol_note,
    read_summaries,
    results_table,
    write_tables,
)
from gianet.variants import QUOTED_ONLY, VARIANTS
from tests.conftest import paper_readings


def summary(variant: str, camera: str = "Sony", dataset: str = "sid-synth", **metrics) -> dict:
    values = {"psnr": 27.1234, "ssim": 0.81234, "lpips": None, "pieapp": None} | metrics
    return {"dataset": dataset, "camera": camera, "variant": variant, "n_images": 24, **values}


SUMMARIES = [
    summary("gia_net", psnr=27.1, ssim=0.8123, lpips=0.31),
    summary("sid_net", psnr=26.456, ssim=0.8, pieapp=1.9),
    summary("sid_net", camera="Fuji", psnr=25.0, ssim=0.7),
    summary("sid_dilated"),
]
COSTS = [
    {
        "variant": name,
        "camera": camera,
        "input_shape": shape,
        "params": params,
        "flops": flops,
        "params_ratio": params / 7_760_268,
        "flops_ratio": flops / 1_110_601_760_768,
    }
    for name, params, flops in (
        ("sid_net", 7_760_268, 1_110_601_760_768),
        ("gia_net", 8_285_068, 1_119_914_000_000),
    )
    for camera, shape in (("Sony", "4x1416x2120"), ("Fuji", "9x1344x2010"))
]


def assert_structurally_valid(latex: str) -> list[list[str]]:
    """Check environments, braces, booktabs rules and column counts; return the body rows."""
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+)\}", latex):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} does not close its begin"
    assert not stack, f"unclosed environments {stack}"
    unescaped = re.sub(r"\\[{}]", "", latex)
    assert unescaped.count("{") == unescaped.count("}")
    for rule in (r"\toprule", r"\bottomrule"):
        assert latex.count(rule) == 1
    top, mid, bottom = (latex.index(r) for r in (r"\toprule", r"\midrule", r"\bottomrule"))
    assert top < mid < bottom
    assert r"\hline" not in latex

    spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", latex).group(1)
    n_columns = len(re.findall(r"[lcr]", spec))
    rows = []
    for line in latex[top:bottom].splitlines():
        if not line.endswith(r"\\"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)&", line.removesuffix(r"\\"))]
        spans = [
            int(m.group(1)) if (m := re.match(r"\\multicolumn\{(\d+)\}", c)) else 1 for c in cells
        ]
        assert sum(spans) == n_columns, f"row has {sum(spans)} of {n_columns} columns: {line}"
        rows.append(cells)
    return rows


def paper_csv() -> list[dict[str, str]]:
    with files("gianet.report").joinpath("paper_results.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_variant_paper_row_exists_in_the_paper_csv() -> None:
    models = {(int(row["table"]), row["model"]) for row in paper_csv()}
    for variant in VARIANTS.values():
        for row in variant.paper:
            assert (row.table, row.model) in models, f"{variant.name}: {row} not in the paper"


@pytest.mark.parametrize("table", [1, 2, 3])
def test_results_tables_are_valid_and_carry_every_paper_number(table: int) -> None:
    latex = results_table(table, SUMMARIES)
    rows = assert_structurally_valid(latex)
    paper_rows = [row for row in rows if len(row) > 1 and row[1] == "paper"]
    expected = [row for row in paper_csv() if int(row["table"]) == table]
    assert len(paper_rows) == len(expected) // 2  # one row per model, both cameras in it
    for row in expected:
        for metric in ("psnr", "ssim", "pieapp", "lpips"):
            if row[metric]:
                assert row[metric] in latex
    for row in paper_rows:
        assert len(row) == 10


def test_table1_rows_pair_paper_and_ours_with_dashes_for_missing() -> None:
    rows = assert_structurally_valid(results_table(1, SUMMARIES))
    index = {(row[0], row[1]): i for i, row in enumerate(rows)}
    gia = index[("GIA-Net", "paper")]
    assert rows[gia][2:] == ["29.72", "0.795", "1.425", "0.404", "28.15", "0.722", "1.739", "0.519"]
    assert rows[gia + 1][:2] == ["", "ours (sid-synth)"]
    assert rows[gia + 1][2:] == ["27.10", "0.812", "--", "0.310"] + ["--"] * 4
    sid = index[("SID-Net", "paper")]
    assert rows[sid + 1][2:] == ["26.46", "0.800", "1.900", "--", "25.00", "0.700", "--", "--"]
    dncnn = index[("DnCNN", "paper")]  # not run: the row stays, all dashes
    assert rows[dncnn + 1][1:] == ["ours (sid-synth)"] + ["--"] * 8


def test_quoted_models_have_a_dagger_and_no_row_of_ours() -> None:
    latex = results_table(1, SUMMARIES)
    rows = assert_structurally_valid(latex)
    names = [row[0] for row in rows]
    for model in QUOTED_ONLY:
        position = names.index(f"{model}$^\\dagger$")
        assert rows[position][1] == "paper"
        assert rows[position + 1][1] == "paper"  # the next model follows at once
    zamir = rows[names.index("Zamir et al.$^\\dagger$")]
    assert zamir[2:] == ["29.43", "--", "1.511", "0.443", "27.63", "--", "1.763", "0.476"]
    assert "Quoted by the paper" in latex
    assert "Quoted by the paper" not in results_table(2, SUMMARIES)


def test_table3_names_its_numbered_models_after_the_variants() -> None:
    rows = assert_structurally_valid(results_table(3, SUMMARIES))
    names = [row[0] for row in rows if row[1] == "paper"]
    assert names[0] == "(1) SID-Net"
    assert names[-1] == "(9) GIA-Net"
    assert len(names) == 9


def test_synthetic_numbers_are_labelled_and_never_called_sid() -> None:
    for table in (1, 2, 3):
        latex = results_table(table, SUMMARIES)
        caption = re.search(r"\\caption\{(.*)\}", latex).group(1)
        assert "synthetic" in caption and "not SID numbers" in caption
        assert "ours (sid-synth)" in latex
        assert "ours (SID)" not in latex and "our reproduction on the SID" not in caption
        assert "Sony 24, Fuji 24" in caption


def test_real_sid_numbers_say_so() -> None:
    latex = results_table(1, [summary("gia_net", dataset="sid", n_images=93)])
    assert "our reproduction on the SID test set" in latex
    assert "synthetic" not in latex
    assert "Sony 93" in latex


def test_other_datasets_are_not_called_sid() -> None:
    latex = results_table(2, [summary("gia_l1", dataset="my_raws")])
    assert r"on the dataset my\_raws. Our numbers are not SID numbers" in latex
    assert r"ours (my\_raws)" in latex


def test_unusual_values_are_formatted() -> None:
    rows = assert_structurally_valid(
        results_table(2, [summary("gia_l1", psnr=math.inf, ssim=math.nan, lpips=0.4)])
    )
    ours = rows[[r[0] for r in rows].index("GIA-l1") + 1]
    assert ours[2:6] == [r"$\infty$", "--", "--", "0.400"]


@pytest.mark.parametrize(
    "summaries, error, message",
    [
        ([], ValueError, "no evaluation summaries"),
        ([summary("gia_net"), summary("sid_net", dataset="sid")], ValueError, "mix datasets"),
        ([summary("gia_net"), summary("gia_net")], ValueError, "two summaries"),
        ([summary("gia_net", camera="Canon")], ValueError, "unknown camera"),
        ([{"dataset": "sid", "camera": "Sony", "variant": "gia_net"}], ValueError, "lacks"),
        ([summary("unet_xl")], KeyError, "unknown variant"),
    ],
)
def test_bad_summaries_are_rejected(summaries: list, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        results_table(1, summaries)


def test_cost_table_puts_ours_beside_table4() -> None:
    latex = cost_table(COSTS)
    rows = assert_structurally_valid(latex)
    body = rows[2:]  # after the two header rows
    assert [(row[0], row[1]) for row in body] == [
        ("Sony", "SID-Net"),
        ("", "GIA-Net"),
        ("Fuji", "SID-Net"),
        ("", "GIA-Net"),
    ]
    # Columns: params (M), params ratio, FLOPs (G), FLOPs ratio; each paper then ours.
    assert body[0][2:] == ["7.76", "7.76", "1.0", "1.000", "1112.92", "1110.60", "1.0", "1.000"]
    assert body[1][2:] == ["--", "8.29", "1.07", "1.068", "--", "1119.91", "1.008", "1.008"]
    assert body[3][2::2] == ["--"] * 4  # the paper reports Sony only
    assert latex.count(r"\midrule") == 2  # one per camera group
    assert "Sony 4x1416x2120; Fuji 9x1344x2010" in latex
    assert "Model 2" not in latex  # no cost row for it: no note
    deeper = COSTS[0] | {
        "variant": "sid_net_deeper",
        "arch_args": {"extra_bottleneck_convs": 2, "extra_bottleneck_kernel": 3},
    }
    noted = cost_table([*COSTS, deeper])
    assert_structurally_valid(noted)
    assert r"two added bottleneck convolutions are 3 $\times$ 3" in noted


def test_cost_table_without_our_costs_still_shows_the_paper() -> None:
    rows = assert_structurally_valid(cost_table([]))
    assert [row[1] for row in rows[2:]] == ["SID-Net", "GIA-Net"]
    assert rows[2][2:4] == ["7.76", "--"]


def test_write_tables_writes_each_table_and_the_combined_file(tmp_path: Path) -> None:
    for summary_ in SUMMARIES:
        folder = tmp_path / "results" / "sid-synth" / summary_["camera"] / summary_["variant"]
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(summary_))
    summaries = read_summaries(sorted((tmp_path / "results").rglob("summary.json")))
    assert sorted(s["variant"] for s in summaries) == sorted(s["variant"] for s in SUMMARIES)

    written = write_tables(summaries, COSTS, tmp_path / "report" / "tables.tex")
    assert set(written) == {
        "table1.tex",
        "table2.tex",
        "table3.tex",
        "table4_cost.tex",
        "tables.tex",
    }
    for name, path in written.items():
        latex = path.read_text()
        if name != "tables.tex":
            assert_structurally_valid(latex)
    combined = written["tables.tex"].read_text()
    assert combined.count(r"\begin{table}") == 4
    assert combined.count(r"\bottomrule") == 4

    rows = [per_image([(0, 20.0), (1, 21.0)]) for _ in summaries]
    first = first_shot_summaries(summaries, rows)
    written = write_tables(summaries, COSTS, tmp_path / "report" / "tables.tex", first)
    assert {f"table{t}_first.tex" for t in (1, 2, 3)} <= set(written)
    combined = written["tables.tex"].read_text()
    assert combined.count(r"\begin{table}") == 7
    assert combined.index("tab:table1-first") < combined.index("tab:table2-sid-synth")


def protocol(**changes) -> dict:
    """A summary's protocol as `gianet evaluate` records it (the paper's readings)."""
    training = paper_readings()
    recorded = {
        "test_exposures": "all",
        "exclude_scenes": [10034, 10045, 10172],
        "levels": "sid",
        "lpips_backbone": "vgg",
        "loss": "l1+ms-ssim",
        "training": training,
    }
    return (
        recorded
        | {k: v for k, v in changes.items() if k in recorded}
        | {"training": training | {k: v for k, v in changes.items() if k in training}}
    )


def test_protocol_note_states_what_each_camera_was_tested_on_and_how_it_was_trained() -> None:
    summaries = [
        summary("gia_net", n_images=595, protocol=protocol()),
        summary("sid_net", n_images=595, protocol=protocol()),
        summary(
            "gia_net",
            camera="Fuji",
            n_images=94,
            protocol=protocol(test_exposures="first", exclude_scenes=[]),
        ),
    ]
    note = protocol_note(summaries)
    assert note.startswith(
        "Protocol: Sony 595 test images (all exposures; scenes 10034, 10045, 10172 excluded); "
        r"Fuji 94 test images (the \_00 shots; no scene excluded); black and white levels of "
        "SID's code; LPIPS on VGG-16. Training: "
    )
    for reading in (
        r"inputs drawn from the \_00 shots (SID)",
        "flips along both axes and transposes (SID)",
        "SID's initialisation (TF-slim)",
        "MS-SSIM exponents 1 (Eq. 3--5)",
        r"$\gamma$ = 0.84 on L1 (Eq. 1)",
        r"model 2's added convolutions 3 $\times$ 3",
        "precision tf32",
    ):
        assert reading in note
    mixed = protocol_note(
        [summaries[0], summary("sid_net", protocol=protocol(flips="sid-before-fix"))]
    )
    assert "Sony 24--595 test images" in mixed
    assert (
        "mixed: flips along both axes and transposes (SID) / vertical flips and transposes "
        "(SID before 2018-10-08)"
    ) in mixed
    unrecorded = protocol_note(SUMMARIES)
    assert unrecorded == (
        "Protocol: Sony 24 test images; Fuji 24 test images; the evaluations recorded nothing more."
    )
    for table in (1, 2, 3):
        assert protocol_note(summaries) in results_table(table, summaries)


def per_image(shots_and_psnrs: list[tuple[int, float]]) -> list[dict]:
    return [{"shot": shot, "psnr": psnr, "ssim": 0.5 + shot / 10} for shot, psnr in shots_and_psnrs]


def test_first_shot_tables_average_each_evaluations_00_shots() -> None:
    summaries = [
        summary("gia_net", psnr=27.0, protocol=protocol()),
        summary("sid_net", camera="Fuji", psnr=25.0, lpips=0.3, protocol=protocol()),
    ]
    rows = [
        per_image([(0, 30.0), (1, 20.0), (0, 28.0), (2, 25.0)]),
        per_image([(0, 26.0), (1, 22.0)]),
    ]
    for row in rows[1]:
        row["lpips"] = 0.2 + row["shot"]
    derived = first_shot_summaries(summaries, rows)
    assert [(d["n_images"], d["psnr"], d["ssim"]) for d in derived] == [
        (2, 29.0, 0.5),
        (1, 26.0, 0.5),
    ]
    assert derived[1]["lpips"] == 0.2 and derived[0]["lpips"] is None  # not computed stays so
    assert derived[0]["protocol"]["test_exposures"] == "first"
    assert summaries[0]["n_images"] == 24 and summaries[0]["protocol"]["test_exposures"] == "all"
    latex = results_table(1, derived, first_shots=True)
    assert_structurally_valid(latex)
    assert r"ours (sid-synth, \_00 shots)" in latex and "tab:table1-first-sid-synth" in latex
    assert "under SID's test protocol" in latex and "Sony 2, Fuji 1" in latex
    assert r"Sony 2 test images (the \_00 shots;" in latex
    gia = assert_structurally_valid(latex)
    names = [row[0] for row in gia]
    assert gia[names.index("GIA-Net") + 1][2:4] == ["29.00", "0.500"]
    with pytest.raises(ValueError, match="no _00 shot among its 1 evaluated images"):
        first_shot_summaries(summaries[:1], [per_image([(1, 20.0)])])


def test_escape_latex() -> None:
    assert escape_latex(r"a_b & 50% #1 $x$ {y} ~ ^ \ ") == (
        r"a\_b \& 50\% \#1 \$x\$ \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{} "
    )


# --- figures ---------------------------------------------------------------------------

HEIGHT, WIDTH = 40, 60
TRUTH = (200, 200, 200)
COLUMN_COLOURS = {"input": (20, 20, 20), "sid_net": (200, 40, 40), "gia_net": (40, 40, 200)}


def write_samples(camera_results: Path, stems: list[str]) -> None:
    """Solid-colour sample PNGs as the evaluation writes them, row ``i`` shifted by ``10 i``."""
    for variant in ("sid_net", "gia_net"):
        folder = camera_results / variant / "samples"
        folder.mkdir(parents=True)
        for i, stem in enumerate(stems):
            for suffix, colour in (
                ("input", COLUMN_COLOURS["input"]),
                ("output", COLUMN_COLOURS[variant]),
                ("gt", TRUTH),
            ):
                shade = np.clip(np.array(colour) + 10 * i, 0, 255).astype(np.uint8)
                iio.imwrite(
                    folder / f"{stem}_{suffix}.png", np.broadcast_to(shade, (HEIGHT, WIDTH, 3))
                )


def sample_dirs(camera_results: Path, variants=("sid_net", "gia_net")) -> dict[str, Path]:
    return {variant: camera_results / variant / "samples" for variant in variants}


def expected_psnr(colour: tuple[int, ...], shift: int) -> float:
    a = np.clip(np.array(colour) + shift, 0, 255)
    b = np.clip(np.array(TRUTH) + shift, 0, 255)
    return 10 * math.log10(255**2 / np.mean((a - b) ** 2.0))


def test_sample_rows_finds_the_pngs_and_measures_psnr(tmp_path: Path) -> None:
    write_samples(tmp_path, ["10003_00_0.1s", "10001_00_0.04s"])
    stems, rows = sample_rows(sample_dirs(tmp_path))
    assert stems == ["10001_00_0.04s", "10003_00_0.1s"]
    assert [panel.title for panel in rows[0]] == ["input", "SID-Net", "GIA-Net", "ground truth"]
    assert rows[0][1].image == tmp_path / "sid_net" / "samples" / "10001_00_0.04s_output.png"
    assert rows[0][-1].psnr is None
    shift = 10  # "10001" was written second
    for panel, column in zip(rows[0][:3], ("input", "sid_net", "gia_net"), strict=True):
        assert panel.psnr == pytest.approx(expected_psnr(COLUMN_COLOURS[column], shift), abs=1e-6)


@pytest.mark.parametrize("title", [None, "sid-synth (synthetic), Sony-like"])
def test_figure_grid_has_one_row_per_image_and_one_column_per_panel(
    tmp_path: Path, title: str | None
) -> None:
    stems = ["10001_00_0.04s", "10003_00_0.1s"]
    write_samples(tmp_path, stems)
    labels, rows = sample_rows(sample_dirs(tmp_path))
    dpi = 40
    out = plot_grid(rows, tmp_path / "figure_Sony.png", row_labels=labels, title=title, dpi=dpi)

    figure = iio.imread(out)[..., :3]
    n_rows, n_columns = 2, 4
    panel_height = figures.PANEL_WIDTH_INCHES * HEIGHT / WIDTH
    title_lines = n_rows + (title is not None)
    expected_height = (n_rows * panel_height + title_lines * figures.TITLE_INCHES) * dpi
    assert figure.shape[1] == pytest.approx(n_columns * figures.PANEL_WIDTH_INCHES * dpi, abs=1)
    assert figure.shape[0] == pytest.approx(expected_height, abs=1)
    # Each grid cell shows its panel's colour near its centre (titles sit above the image).
    for r in range(n_rows):
        for c, column in enumerate(["input", "sid_net", "gia_net", "truth"]):
            colour = TRUTH if column == "truth" else COLUMN_COLOURS[column]
            y = int((r + 0.65) * figure.shape[0] / n_rows)
            x = int((c + 0.5) * figure.shape[1] / n_columns)
            expected = np.clip(np.array(colour) + 10 * r, 0, 255)
            assert np.abs(figure[y, x].astype(int) - expected).max() <= 2, (r, column)


def test_figure_rejects_ragged_grids_and_missing_files(tmp_path: Path) -> None:
    write_samples(tmp_path, ["10001_00_0.04s"])
    _, rows = sample_rows(sample_dirs(tmp_path))
    with pytest.raises(ValueError, match="same number of panels"):
        plot_grid([rows[0], rows[0][:2]], tmp_path / "ragged.png")
    with pytest.raises(FileNotFoundError, match="run the evaluation"):
        plot_grid([[Panel(tmp_path / "absent.png", "input")]], tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match="no sample PNGs"):
        sample_rows(sample_dirs(tmp_path / "elsewhere", ["sid_net"]))

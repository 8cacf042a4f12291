"""The tables as data: the paper's rows and numbers, ours from the evaluations, statuses,
seeds, SID's _00 protocol, costs, comparisons and the protocol sentence."""

from __future__ import annotations

import csv
import json
import statistics
from importlib.resources import files
from pathlib import Path

import pytest

from gianet.report import paper
from gianet.report.comparisons import Bootstrap, compare, pairs
from gianet.report.cost_table import cost_table
from gianet.report.model import Status, Table, plain
from gianet.report.protocol import protocol_sentence
from gianet.report.results_tables import results_table
from gianet.report.runs import ReportInputError, load_evaluations, per_image_values
from gianet.report.stats import paired_difference
from gianet.variants import VARIANTS
from tests.conftest import paper_readings
from tests.report_fixtures import COSTS, write_run, write_runs

CAMERAS = ["Sony", "Fuji"]
FAST = Bootstrap(resamples=200, seed=0, confidence=0.95)


def cell(table: Table, camera: str, model: str, metric: str):
    block = next(b for b in table.blocks if b.camera == camera)
    row = next(r for r in block.rows if r.model == model)
    return row.cells[[c.key for c in table.columns].index(metric)]


def paper_csv() -> list[dict[str, str]]:
    with files("gianet.report").joinpath("paper_results.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def evaluations(tmp_path: Path):
    runs = write_runs(tmp_path, metrics=("psnr", "ssim", "lpips"))
    return load_evaluations(runs)


def test_every_variant_paper_row_exists_in_the_paper_csv() -> None:
    models = {(int(row["table"]), row["model"]) for row in paper_csv()}
    for variant in VARIANTS.values():
        for row in variant.paper:
            assert (row.table, row.model) in models, f"{variant.name}: {row} not in the paper"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_results_tables_keep_every_paper_row_and_number(evaluations, number: int) -> None:
    table = results_table(number, evaluations, CAMERAS, bootstrap=FAST)
    assert [block.camera for block in table.blocks] == CAMERAS
    for block in table.blocks:
        assert [row.model for row in block.rows] == paper.models(number)
    for row in paper_csv():
        if int(row["table"]) != number:
            continue
        for metric in ("psnr", "ssim", "pieapp", "lpips"):
            published = cell(table, row["camera"].capitalize(), row["model"], metric).paper
            assert published.text == row[metric]
            assert published.status is (Status.VALUE if row[metric] else Status.NOT_REPORTED)
    if number == 3:
        labels = [row.label for row in table.blocks[0].rows]
        assert labels[0] == "(1) SID-Net" and labels[-1] == "(9) GIA-Net"


def test_ours_are_the_summaries_and_missing_numbers_say_why(tmp_path: Path) -> None:
    runs = [
        write_run(tmp_path, "Sony", "gia_net", metrics=("psnr", "ssim")),
        write_run(
            tmp_path, "Sony", "sid_net", metrics=("psnr", "ssim"), unavailable={"lpips": "no"}
        ),
        write_run(tmp_path, "Fuji", "sid_net"),
    ]
    evaluations = load_evaluations(runs)
    table = results_table(1, evaluations, CAMERAS, bootstrap=FAST)
    gia = json.loads(runs[0].summary.read_text())
    ours = cell(table, "Sony", "GIA-Net", "psnr").ours
    assert (ours.status, ours.mean, ours.sd, ours.seeds) == (Status.VALUE, gia["psnr"], None, 1)
    assert ours.sources == (str(runs[0].summary),)
    assert cell(table, "Sony", "GIA-Net", "psnr").difference == pytest.approx(gia["psnr"] - 29.72)
    assert cell(table, "Sony", "DnCNN", "psnr").ours.status is Status.NOT_RUN
    assert cell(table, "Sony", "SGN", "psnr").ours.status is Status.QUOTED
    assert cell(table, "Sony", "GIA-Net", "pieapp").ours.status is Status.NOT_COMPUTED
    assert cell(table, "Sony", "SID-Net", "lpips").ours.status is Status.UNAVAILABLE
    assert cell(table, "Fuji", "GIA-Net", "psnr").ours.status is Status.NOT_RUN
    assert any(note.startswith("LPIPS: requested but not computed") for note in table.notes)
    assert "PieAPP: not computed (not in evaluate.metrics)." in table.notes
    # Bold: our best and the paper's best of each column, per camera.
    assert cell(table, "Sony", "GIA-Net", "psnr").best_ours  # +1 dB over SID-Net's fixture
    assert not cell(table, "Sony", "SID-Net", "psnr").best_ours
    assert cell(table, "Sony", "GIA-Net", "psnr").best_paper  # 29.72
    assert cell(table, "Sony", "GIA-Net", "lpips").best_paper  # 0.404, lower is better
    assert cell(table, "Fuji", "Zamir et al.", "lpips").best_paper  # 0.476


def test_several_seeds_give_mean_and_standard_deviation(tmp_path: Path) -> None:
    runs = [write_run(tmp_path, "Sony", "gia_net", seed=s) for s in (0, 1, 2)]
    runs.append(write_run(tmp_path, "Sony", "sid_net"))
    table = results_table(1, load_evaluations(runs), ["Sony"], bootstrap=FAST)
    values = [json.loads(run.summary.read_text())["psnr"] for run in runs[:3]]
    ours = cell(table, "Sony", "GIA-Net", "psnr").ours
    assert ours.mean == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert ours.sd == pytest.approx(statistics.stdev(values), abs=1e-12)
    assert ours.seeds == 3 and len(ours.sources) == 3
    assert "mean ± standard deviation over 1–3 training seeds" in plain(table.caption)
    (comparison,) = [c for c in table.comparisons if c.b == "sid_net" and c.metric == "psnr"]
    assert (comparison.result.seeds_a, comparison.result.seeds_b) == (3, 1)


def test_first_shot_tables_average_the_00_rows_of_the_per_image_results(evaluations) -> None:
    table = results_table(2, evaluations, CAMERAS, first_shots=True, bootstrap=FAST)
    (gia,) = evaluations["Sony", "gia_net"]
    (sid,) = evaluations["Sony", "sid_net"]
    first = sid.images[sid.images["shot"] == 0]
    ours = cell(table, "Sony", "SID-Net", "psnr").ours
    assert ours.mean == pytest.approx(first["psnr"].mean(), abs=1e-12)
    assert ours.sources == (str(sid.run.metrics_csv),)
    assert table.key == "table2_first"
    assert "Ours under SID's test protocol" in plain(table.caption)
    assert "Test images per camera: Sony 3, Fuji 3." in plain(table.caption)
    assert gia.run.variant == "gia_net"


def test_captions_never_call_synthetic_numbers_sid(tmp_path: Path) -> None:
    synthetic = results_table(
        1, load_evaluations(write_runs(tmp_path / "a")), CAMERAS, bootstrap=FAST
    )
    caption = plain(synthetic.caption)
    assert "synthetic" in caption and "not SID numbers" in caption
    assert synthetic.ours_header == "synth."
    assert "sid-synth's statistics" in synthetic.comparisons_caption
    real = results_table(
        1, load_evaluations(write_runs(tmp_path / "b", dataset="sid")), CAMERAS, bootstrap=FAST
    )
    assert "our reproduction on the SID test set" in plain(real.caption)
    assert "synthetic" not in plain(real.caption) and real.ours_header == "ours"
    other = load_evaluations(write_runs(tmp_path / "c", dataset="my_raws"))
    other_table = results_table(
        2, other, CAMERAS, configuration="demo (params.yaml)", bootstrap=FAST
    )
    assert "on the dataset my_raws. Our numbers are not SID numbers" in plain(other_table.caption)
    assert "Configuration: demo (params.yaml)." in plain(other_table.caption)
    assert other_table.ours_header == "my_raws"


def test_comparisons_are_the_papers_and_measured_on_the_per_image_results(evaluations):
    assert [label for label, _, _ in pairs(3)] == [
        "(6) vs (1)",
        "(6) vs (2)",
        "(7) vs (3)",
        "(8) vs (4)",
        "(9) vs (5)",
    ]
    assert [b for _, _, b in pairs(1)] == ["DnCNN", "RID-Net", "SID-Net", "SE-UNet"]
    assert [b for _, _, b in pairs(2)] == ["SID-Net", "SID-dilated", "SW-Net"]
    comparisons = compare(1, evaluations, CAMERAS, ["psnr", "lpips"], bootstrap=FAST)
    assert len(comparisons) == 2 * 4 * 2
    measured = {(c.camera, c.b, c.metric): c for c in comparisons}
    direct = measured["Fuji", "sid_net", "lpips"]
    files_a, a = per_image_values(evaluations["Fuji", "gia_net"], "lpips", False)
    files_b, b = per_image_values(evaluations["Fuji", "sid_net"], "lpips", False)
    assert files_a == files_b
    expected = paired_difference(
        a, b, higher_is_better=False, resamples=200, confidence=0.95, seed=0
    )
    assert direct.result == expected and direct.label == "GIA-Net vs SID-Net"
    missing = measured["Sony", "dncnn", "psnr"]
    assert missing.result is None and missing.missing == "dncnn not run"


def test_cost_table_puts_ours_beside_table4() -> None:
    table = cost_table(COSTS, "sid-synth", "cost.json")
    assert [(b.camera, [r.label for r in b.rows]) for b in table.blocks] == [
        ("Sony", ["SID-Net", "GIA-Net"]),
        ("Fuji", ["SID-Net", "GIA-Net"]),
    ]
    sony_sid, sony_gia = table.blocks[0].rows
    assert [c.ours.mean for c in sony_sid.cells] == pytest.approx([7.760268, 1, 1110.60176, 1])
    assert [c.paper.text for c in sony_sid.cells] == ["7.76", "1.0", "1112.92", "1.0"]
    assert [c.paper.text for c in sony_gia.cells] == ["", "1.07", "", "1.008"]
    assert all(c.paper.status is Status.NOT_REPORTED for c in table.blocks[1].rows[0].cells)
    assert not any(c.best_ours or c.best_paper for *_, c in table.entries())
    assert sony_sid.cells[0].ours.sources == ("cost.json",)
    assert "Sony 4x1416x2120; Fuji 9x1344x2010" in plain(table.caption)
    assert table.protocol == ""
    deeper = COSTS[0] | {
        "variant": "sid_net_deeper",
        "arch_args": {"extra_bottleneck_convs": 2, "extra_bottleneck_kernel": 3},
    }
    noted = cost_table([*COSTS, deeper], "sid-synth")
    assert "two added bottleneck convolutions are 3 × 3" in noted.protocol
    empty = cost_table([], "sid-synth")  # the paper's rows stay
    assert [r.label for r in empty.blocks[0].rows] == ["SID-Net", "GIA-Net"]
    with pytest.raises(ValueError, match="lacks"):
        cost_table([{"variant": "sid_net"}], "sid-synth")


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


def summary(variant: str, camera: str = "Sony", n_images: int = 24, **extra) -> dict:
    return {"camera": camera, "variant": variant, "n_images": n_images, **extra}


def test_protocol_sentence_states_the_test_set_and_the_training_readings() -> None:
    summaries = [
        summary("gia_net", n_images=595, protocol=protocol()),
        summary("sid_net", n_images=595, protocol=protocol()),
        summary("sid_net_deeper", n_images=595, protocol=protocol(extra_convs_kernel=3)),
        summary(
            "gia_net",
            camera="Fuji",
            n_images=94,
            protocol=protocol(test_exposures="first", exclude_scenes=[]),
        ),
    ]
    sentence = protocol_sentence(summaries)
    assert sentence.startswith(
        "Protocol: Sony 595 test images (all exposures; scenes 10034, 10045, 10172 excluded); "
        "Fuji 94 test images (the _00 shots; no scene excluded); black and white levels of "
        "SID's code; LPIPS on VGG-16. Training: "
    )
    for reading in (
        "inputs drawn from the _00 shots (SID)",
        "horizontal and vertical flips and transposes (SID)",
        "SID's initialisation (TF-slim)",
        "MS-SSIM exponents 1 (Eq. 3–5)",
        "γ = 0.84 on L1 (Eq. 1)",
        "model 2's added convolutions 3 × 3",
        "precision tf32",
    ):
        assert reading in sentence
    assert "epochs" not in sentence  # printed only where recorded
    l1_only = protocol(extra_convs_kernel=None, loss_gamma=None, msssim_exponents=None)
    l1_sentence = protocol_sentence([summary("sid_net", protocol=l1_only)])
    assert "model 2" not in l1_sentence and "γ" not in l1_sentence and "MS-SSIM" not in l1_sentence
    schedule = protocol()
    schedule["training"] |= {"epochs": 4000, "width": 32}
    assert "4000 epochs, width 32" in protocol_sentence([summary("gia_net", protocol=schedule)])
    before = protocol(flips="sid-before-fix")
    mixed = protocol_sentence([summaries[0], summary("sid_net", protocol=before)])
    assert "Sony 24–595 test images" in mixed
    assert "mixed: horizontal and vertical flips and transposes (SID) / vertical flips" in mixed
    assert protocol_sentence([summary("gia_net"), summary("sid_net", "Fuji")]) == (
        "Protocol: Sony 24 test images; Fuji 24 test images; the evaluations recorded nothing more."
    )


def test_the_tables_protocol_is_the_evaluations(tmp_path: Path) -> None:
    runs = write_runs(tmp_path, protocol=protocol())
    table = results_table(1, load_evaluations(runs), CAMERAS, first_shots=True, bootstrap=FAST)
    assert table.protocol.startswith("Protocol: Sony 3 test images (the _00 shots;")


def corrupt(run, **changes) -> None:
    data = json.loads(run.summary.read_text()) | changes
    run.summary.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda runs: corrupt(runs[0], dataset="sid"), "mix datasets"),
        (lambda runs: corrupt(runs[0], variant="gia_net"), "holds Sony/gia_net"),
        (lambda runs: corrupt(runs[0], n_images=99), "6 rows, its summary"),
        (lambda runs: runs[0].metrics_csv.write_text("file,psnr\na,1\n"), "no shot column"),
        (lambda runs: runs.append(runs[0]), "given twice"),
    ],
)
def test_files_that_do_not_match_their_runs_are_refused(tmp_path: Path, damage, message) -> None:
    runs = write_runs(tmp_path)
    damage(runs)
    with pytest.raises(ReportInputError, match=message):
        load_evaluations(runs)

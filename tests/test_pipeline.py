"""The whole Snakemake DAG end to end on a tiny sid-synth configuration.

The run happens in an empty working folder: no params.yaml there, so every job works only
from what its rule hands it (the workflow reads its configuration beside the Snakefile)."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gianet.data.lists import parse_list
from gianet.report.document import latex_engine
from tests.conftest import TINY_CONFIG

REPO = Path(__file__).parents[1]
TINY = TINY_CONFIG


def snakemake(workdir: Path, *args: str, config: str = "tiny.yaml") -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--cores",
        "2",
        "--configfile",
        config,
        *args,
    ]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pipeline")
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-4000:]
    assert not (workdir / "params.yaml").exists()
    return workdir


@pytest.mark.slow
def test_dag_produces_every_output_from_real_network_outputs(finished_run):
    for camera, variant in itertools.product(("Sony", "Fuji"), ("sid_net", "gia_net")):
        results = finished_run / "results" / "sid-synth" / camera
        run_dir = {v: results / v / "seed0" for v in ("sid_net", "gia_net")}
        rows = pd.read_csv(run_dir[variant] / "metrics.csv")
        # Test exposures all: every pair of the test list, each of its scenes' two shots.
        listed = parse_list(finished_run / "data" / "sid-synth" / f"{camera}_test_list.txt")
        assert list(rows["file"]) == [pair.short for pair in listed] and len(rows) == 4
        assert sorted(rows["shot"]) == [0, 0, 1, 1]
        # Two epochs on two scenes: finite, positive PSNRs, not good ones.
        assert (rows["psnr"] > 0).all() and rows["ssim"].between(-1, 1).all()
        summary = json.loads((run_dir[variant] / "summary.json").read_text())
        assert summary["psnr"] == pytest.approx(rows["psnr"].mean())
        assert summary["protocol"]["test_exposures"] == "all"
        assert summary["protocol"]["training"]["shots"] == "first"
        assert (run_dir[variant] / "train" / "metrics.json").exists()
    report = finished_run / "report" / "sid-synth"
    tables = (report / "tables.tex").read_text()
    assert "\\toprule" in tables and "synthetic" in tables.lower()
    # The protocol under every table, and Tables 1-3 again under SID's _00 protocol.
    assert tables.count("Protocol: Sony 4 test images (all exposures; no scene excluded)") == 3
    assert tables.count("Protocol: Sony 2 test images (the \\_00 shots") == 3
    assert tables.count(r"\begin{table}") == 7
    for name in ("figure_Sony", "figure_Fuji", "curves_Sony", "curves_Fuji"):
        assert (report / f"{name}.png").stat().st_size > 10_000
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert metrics


@pytest.mark.slow
def test_snakemake_report_holds_the_rendered_tables_figures_and_curves(finished_run):
    run = snakemake(finished_run, "--report", "report.html")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    page = (finished_run / "report.html").read_text()
    for name in ("tables.html", "figure_Sony.png", "figure_Fuji.png", "curves_Sony.png"):
        assert name in page, name
    for category in ("Tables", "Figures", "Curves"):
        assert category in page
    tables = (finished_run / "report" / "sid-synth" / "tables.html").read_text()
    assert tables.count("<table>") == 7 and "synthetic" in tables
    assert tables.count('<td class="note"') == 7


@pytest.mark.slow
def test_second_run_has_nothing_to_do(finished_run):
    dry = snakemake(finished_run, "-n")
    assert dry.returncode == 0
    assert "Nothing to be done" in dry.stdout + dry.stderr


def scheduled(dry: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the job stats of ``snakemake -n --quiet rules``."""
    counts = {}
    for line in dry.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            counts[fields[0]] = int(fields[1])
    return counts


#: The report's jobs: the report and, where a LaTeX engine is installed, its PDF.
REPORT_JOBS = {"report": 1, "all": 1} | ({"report_pdf": 1} if latex_engine() else {})


def planned(workdir: Path, **changes) -> dict[str, int]:
    """The jobs a run of TINY with ``changes`` merged in would run (``snakemake -n``)."""
    from gianet.settings import deep_merge

    (workdir / "changed.yaml").write_text(yaml.safe_dump(deep_merge(TINY, changes)))
    dry = snakemake(workdir, "-n", "--quiet", "rules", config="changed.yaml")
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    counts = scheduled(dry)
    counts.pop("total", None)
    return counts


# What a change of each kind of setting reruns, and nothing else: (changes, rules planned).
CHANGES = [
    # How jobs run, never what they compute: nothing.
    (
        {
            "runtime": {
                "threads": 1,
                "loader_workers": 3,
                "device": "cpu",
                "checkpoint_every": 7,
                "val_every": 4,
                "progress": False,
                "channels_last": False,
            }
        },
        {},
    ),
    # What every training depends on: every training onwards.
    ({"train": {"lr": 3e-4}}, {"train": 4, "evaluate": 4} | REPORT_JOBS),
    # A setting only the MS-SSIM variants use: gia_net's trainings onwards, not sid_net's.
    ({"train": {"msssim_exponents": "wang"}}, {"train": 2, "evaluate": 2} | REPORT_JOBS),
    # The validation split is the training's own choice: trainings onwards.
    ({"train": {"val_exposures": {"Sony": "first"}}}, {"train": 2, "evaluate": 2} | REPORT_JOBS),
    # The test protocol changes what is evaluated, never what was trained.
    ({"evaluate": {"test_exposures": {"Fuji": "first"}}}, {"evaluate": 2} | REPORT_JOBS),
    # How the report presents the results: the report alone.
    ({"report": {"crops_per_image": 2}}, REPORT_JOBS),
    # What the cache holds: packing, and what read it.
    ({"sid": {"levels": "file"}}, {"pack": 2, "train": 4, "evaluate": 4} | REPORT_JOBS),
    # How the Table 1 baselines train: none of the tiny run's variants is one, so nothing.
    ({"train": {"baseline_recipe": "gia-net"}}, {}),
    # A second seed: its own runs, the first seed's are kept.
    ({"train": {"seeds": [0, 1]}}, {"train": 4, "evaluate": 4} | REPORT_JOBS),
]


@pytest.mark.slow
@pytest.mark.parametrize(("changes", "expected"), CHANGES, ids=lambda v: json.dumps(v)[:60])
def test_a_changed_setting_reruns_exactly_what_depends_on_it(finished_run, changes, expected):
    assert planned(finished_run, **changes) == expected


@pytest.mark.slow
def test_a_dry_run_and_the_linter_change_no_file(finished_run):
    def files() -> dict[str, tuple[int, int]]:
        return {
            str(path): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in finished_run.rglob("*")
            if path.is_file() and ".snakemake" not in path.parts
        }

    before = files()
    for args in (("-n",), ("--lint",), ("-n", "--forceall")):
        assert snakemake(finished_run, *args).returncode == 0, args
    assert files() == before


@pytest.mark.slow
def test_bad_configuration_stops_before_any_work_naming_the_key(finished_run, tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump({"train": {"lr": "fast", "epoch": 3}}))
    run = snakemake(tmp_path, "-n")
    assert run.returncode != 0
    said = run.stdout + run.stderr  # Snakemake 9 prints workflow errors on stdout
    assert "train.lr: Input should be a valid number, got 'fast'" in said
    assert "unknown key train.epoch" in said


def test_paper_configuration_dry_run_lists_every_job_without_network(tmp_path):
    dry = snakemake(tmp_path, "-n", "-p", config=str(REPO / "configs/paper.yaml"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = scheduled(dry)
    assert counts["sid_download"] == 2 and counts["sid_unpack"] == 2 and counts["pack"] == 2
    assert counts["train"] == counts["evaluate"] == 2 * 14
    assert counts["report"] == 1 and counts["cost"] == 1
    # Each camera's protocol reaches its jobs: Sony drops SID's misaligned scenes, Fuji keeps
    # its 10172; both test every exposure, pack with SID's levels, LPIPS on VGG.
    commands = [line for line in dry.stdout.splitlines() if line.startswith("Shell command:")]
    jobs = [shell_settings(line) for line in commands if "--settings" in line]
    packs = {job["camera"]: job for stage, job in jobs if stage == "pack"}
    assert packs == {camera: {"camera": camera, "levels": "sid"} for camera in ("Sony", "Fuji")}
    evaluations = [job for stage, job in jobs if stage == "evaluate"]
    assert len(evaluations) == 28 and all(e["lpips_backbone"] == "vgg" for e in evaluations)
    tests = {e["camera"]: e["test"] for e in evaluations}
    assert tests["Sony"] == {"exposures": "all", "exclude_scenes": [10034, 10045, 10172]}
    assert tests["Fuji"] == {"exposures": "all", "exclude_scenes": []}
    assert [job["extra_convs_kernel"] for stage, job in jobs if stage == "cost"] == [3]
    assert [job["report"]["first_shot_tables"] for stage, job in jobs if stage == "report"] == [
        True
    ]


def shell_settings(line: str) -> tuple[str, dict]:
    """(stage, its --settings JSON) of one ``Shell command:`` line of ``snakemake -n -p``."""
    stage = line.split("gianet ", 1)[1].split()[0]
    return stage, json.loads(line.split("--settings '", 1)[1].split("'", 1)[0])

import json
from pathlib import Path

import pytest
import yaml
from gianet.jobs.runtime import Runtime

from gianet.config import ConfigError, load_params, parse_section, validate

REPO_PARAMS = "params.yaml"


def test_repository_params_and_paper_overlay_are_valid():
    params = load_params(REPO_PARAMS)
    paper = yaml.safe_load(Path("configs/paper.yaml").read_text())
    merged = load_params(REPO_PARAMS, paper)
    assert merged["dataset"] == "sid" and merged["train"]["epochs"] == 4000
    assert merged["synth"] == params["synth"]  # untouched sections survive the merge
    # The paper's protocol, each reading explicit (docs/readings.md).
    assert merged["sid"]["exclude_scenes"] == {"Sony": [10034, 10045, 10172], "Fuji": []}
    assert merged["evaluate"]["test_exposures"] == {"Sony": "all", "Fuji": "all"}
    assert merged["evaluate"]["lpips_backbone"] == "vgg" and merged["sid"]["levels"] == "sid"
    readings = {"shots": "first", "flips": "sid", "init": "sid", "msssim_exponents": "paper"}
    assert readings.items() <= merged["train"].items()
    assert merged["train"]["loss_gamma_term"] == "l1" and merged["train"]["extra_convs_kernel"] == 3
    only_first = {"evaluate": {"test_exposures": {"Sony": "first", "Fuji": "all"}}}
    assert load_params(REPO_PARAMS, only_first)["report"]["first_shot_tables"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"train": {"lrr": 1}}, "unknown key train.lrr"),
        ({"train": {"lr": "fast"}}, "train.lr: 'fast' is not of type 'number'"),
        ({"cameras": ["Canon"]}, "cameras.0: 'Canon' is not one of"),
        ({"variants": ["sid_net", "gia_netz"]}, "unknown variant(s) gia_netz"),
        (
            {"variants": ["sid_net"], "report": {"figure_variants": ["gia_net"]}},
            "gia_net not in variants",
        ),
        ({"train": {"multi_size_b": [32, 16]}}, "must be [low, high]"),
        ({"colour": 1}, "unknown key colour"),
        ({"train": {"shots": "_00"}}, "train.shots: '_00' is not one of ['first', 'all']"),
        ({"train": {"extra_convs_kernel": 5}}, "train.extra_convs_kernel: 5 is not one of"),
        ({"sid": {"exclude_scenes": [10034]}}, "sid.exclude_scenes: [10034] is not of type"),
        ({"sid": {"exclude_scenes": {"Sony": [34]}}}, "sid.exclude_scenes.Sony.0: 34 is less"),
        ({"evaluate": {"test_exposures": "all"}}, "evaluate.test_exposures: 'all' is not of"),
        ({"evaluate": {"lpips_backbone": "squeeze"}}, "evaluate.lpips_backbone: 'squeeze'"),
        (
            {"evaluate": {"test_exposures": {"Sony": "first", "Fuji": "first"}}},
            "report.first_shot_tables: true needs evaluate.test_exposures all",
        ),
    ],
)
def test_bad_values_name_the_file_and_key(override, message):
    with pytest.raises(ConfigError) as error:
        load_params(REPO_PARAMS, override)
    assert message in str(error.value)
    assert "params.yaml" in str(error.value)


def test_missing_key_and_bad_files(tmp_path):
    params = yaml.safe_load(Path(REPO_PARAMS).read_text())
    del params["train"]["seed"]
    with pytest.raises(ConfigError, match="'seed' is a required property"):
        validate(params, "mine.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_params(broken)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_params(tmp_path / "absent.yaml")


def test_a_job_settings_section_is_validated_whole():
    train = yaml.safe_load(Path(REPO_PARAMS).read_text())["train"]
    assert parse_section(json.dumps(train), "train") == train
    with pytest.raises(ConfigError, match="--settings: not valid JSON"):
        parse_section("{train: 1}", "train")
    with pytest.raises(ConfigError, match="'seed' is a required property"):
        parse_section(json.dumps({k: v for k, v in train.items() if k != "seed"}), "train")
    with pytest.raises(ConfigError, match=r"must be \[low, high\]"):
        parse_section(json.dumps(train | {"multi_size_b": [9, 3]}), "train")
    with pytest.raises(ConfigError, match="unknown key train.threads"):
        parse_section(json.dumps(train | {"threads": 2}), "train")  # runtime, not train


def test_runtime_section_parses_and_threads_can_be_lowered():
    section = yaml.safe_load(Path(REPO_PARAMS).read_text())["runtime"]
    runtime = Runtime.from_json(json.dumps(section), threads=3)
    assert runtime.threads == 3 and runtime.device == section["device"]
    with pytest.raises(ConfigError, match="runtime.device"):
        Runtime.from_json(json.dumps(section | {"device": "tpu"}))


def test_archive_url_without_an_archive_suffix_fails_validation():
    with pytest.raises(ConfigError, match="sid.archives.Sony.url"):
        load_params(REPO_PARAMS, {"sid": {"archives": {"Sony": {"url": "https://x/y.rar"}}}})

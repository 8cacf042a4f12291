from pathlib import Path

import pytest
import yaml

from gianet.config import ConfigError, load_params, parse_override, validate

REPO_PARAMS = "params.yaml"


def test_repository_params_and_paper_overlay_are_valid():
    params = load_params(REPO_PARAMS)
    paper = yaml.safe_load(Path("configs/paper.yaml").read_text())
    merged = load_params(REPO_PARAMS, paper)
    assert merged["dataset"] == "sid" and merged["train"]["epochs"] == 4000
    assert merged["synth"] == params["synth"]  # untouched sections survive the merge


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
    with pytest.raises(ConfigError, match="--override: not valid JSON"):
        parse_override("{train: 1}")

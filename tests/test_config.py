"""The configuration as typed settings: params.yaml and the paper's overlay are valid, and
every bad value is one line naming the file, the key and the fix."""

from pathlib import Path

import pytest
import yaml

from gianet.settings import ConfigError, deep_merge, json_schema, load_params, validate_params
from gianet.settings.sections import Params

REPO = Path(__file__).parents[1]
REPO_PARAMS = REPO / "params.yaml"
PAPER = REPO / "configs" / "paper.yaml"


def repository_params() -> dict:
    return yaml.safe_load(REPO_PARAMS.read_text())


def test_repository_params_and_paper_overlay_are_valid():
    params = load_params(REPO_PARAMS)
    merged = load_params(REPO_PARAMS, [PAPER])
    assert merged.dataset == "sid" and merged.train.epochs == 4000
    assert merged.synth == params.synth  # untouched sections survive the merge
    # The paper's protocol, each reading explicit (docs/readings.md).
    assert merged.sid.exclude_scenes == {"Sony": [10034, 10045, 10172], "Fuji": []}
    assert merged.evaluate.test_exposures == {"Sony": "all", "Fuji": "all"}
    assert merged.evaluate.lpips_backbone == "vgg" and merged.sid.levels == "sid"
    train = merged.train
    assert (train.shots, train.flips, train.init, train.msssim_exponents) == (
        "first",
        "sid",
        "sid",
        "paper",
    )
    assert train.loss_gamma_term == "l1" and train.extra_convs_kernel == 3 and train.width == 32


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"train": {"lrr": 1}}, "unknown key train.lrr"),
        ({"train": {"lr": "fast"}}, "train.lr: Input should be a valid number, got 'fast'"),
        ({"train": {"epochs": 4.0}}, "train.epochs: Input should be a valid integer, got 4.0"),
        ({"runtime": {"progress": "yes"}}, "runtime.progress: Input should be a valid boolean"),
        ({"cameras": ["Canon"]}, "cameras.0: Input should be 'Sony' or 'Fuji', got 'Canon'"),
        ({"variants": ["sid_net", "gia_netz"]}, "unknown variant(s) gia_netz"),
        (
            {"variants": ["sid_net"], "report": {"figure_variants": ["gia_net"]}},
            "gia_net not in variants",
        ),
        ({"variants": ["sid_net", "sid_net"]}, "variants: lists sid_net more than once"),
        ({"train": {"multi_size_b": [32, 16]}}, "must be [low, high]"),
        ({"colour": 1}, "unknown key colour"),
        ({"train": {"shots": "_00"}}, "train.shots: Input should be 'first' or 'all'"),
        ({"train": {"extra_convs_kernel": 5}}, "train.extra_convs_kernel: Input should be 1 or 3"),
        ({"sid": {"exclude_scenes": [10034]}}, "sid.exclude_scenes: Input should be a valid dict"),
        ({"sid": {"exclude_scenes": {"Sony": [-34]}}}, "sid.exclude_scenes.Sony.0: Input should"),
        ({"evaluate": {"test_exposures": "all"}}, "evaluate.test_exposures: Input should be a"),
        ({"evaluate": {"lpips_backbone": "squeeze"}}, "evaluate.lpips_backbone: Input should be"),
        ({"runtime": {"threads": 0}}, "runtime.threads: Input should be greater than or equal"),
        (
            {"evaluate": {"test_exposures": {"Sony": "first", "Fuji": "first"}}},
            "report.first_shot_tables: true needs evaluate.test_exposures all",
        ),
    ],
)
def test_bad_values_name_the_file_and_key(override, message):
    with pytest.raises(ConfigError) as error:
        validate_params(deep_merge(repository_params(), override), "params.yaml")
    assert message in str(error.value)
    assert str(error.value).startswith("params.yaml: ")


def test_every_problem_is_reported_at_once_one_line_each():
    override = {"train": {"lr": "fast", "epochs": 0}, "colour": 1}
    with pytest.raises(ConfigError) as error:
        validate_params(deep_merge(repository_params(), override), "mine.yaml")
    lines = str(error.value).splitlines()
    assert len(lines) == 3 and all(line.startswith("mine.yaml: ") for line in lines)


def test_a_per_camera_setting_must_name_every_camera():
    params = repository_params()
    params["evaluate"]["test_exposures"] = {"Sony": "all"}
    with pytest.raises(ConfigError, match="evaluate.test_exposures: has no entry for Fuji"):
        validate_params(params, "mine.yaml")


def test_missing_key_and_bad_files(tmp_path):
    params = repository_params()
    del params["train"]["seeds"]
    with pytest.raises(ConfigError, match="mine.yaml: train.seeds: missing"):
        validate_params(params, "mine.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_params(broken)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_params(tmp_path / "absent.yaml")


def test_settings_are_frozen_and_carry_no_default_of_their_own():
    params = load_params(REPO_PARAMS)
    with pytest.raises(ValueError):
        params.train.lr = 1.0  # type: ignore[misc]

    # One home for every value: no model field has a default, so nothing can disagree with
    # params.yaml; a missing key is an error, never a silent default.
    def fields_with_defaults(model) -> list[str]:
        found = []
        for name, field in model.model_fields.items():
            if not field.is_required():
                found.append(f"{model.__name__}.{name}")
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, Params.__base__):
                found += fields_with_defaults(annotation)
        return found

    assert fields_with_defaults(Params) == []


def test_the_generated_schema_validates_the_repository_configurations():
    import jsonschema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(repository_params(), schema)
    merged = deep_merge(repository_params(), yaml.safe_load(PAPER.read_text()))
    jsonschema.validate(merged, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(deep_merge(repository_params(), {"train": {"lrr": 1}}), schema)


def test_archive_url_without_an_archive_suffix_fails_validation():
    override = {"sid": {"archives": {"Sony": {"url": "https://x/y.rar"}}}}
    with pytest.raises(ConfigError, match="sid.archives.Sony.url"):
        validate_params(deep_merge(repository_params(), override), "params.yaml")

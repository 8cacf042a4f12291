"""The configuration as typed objects: params.yaml's sections (:mod:`.sections`), the
relations between them (:mod:`.checks`) and how files are read and problems worded
(:mod:`.load`). Each stage's settings are views of these (see :mod:`gianet.stages`)."""

from gianet.settings.load import (
    ConfigError,
    deep_merge,
    load_params,
    read_yaml,
    validate_params,
)
from gianet.settings.sections import Params


def json_schema() -> dict:
    """The JSON schema of params.yaml, generated from the models (``gianet schema``)."""
    schema = Params.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gianet params.yaml"
    return schema


__all__ = [
    "ConfigError",
    "Params",
    "deep_merge",
    "json_schema",
    "load_params",
    "read_yaml",
    "validate_params",
]

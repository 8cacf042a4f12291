"""Loading and validating ``params.yaml``, the one configuration of gianet.

Snakemake reads the same file as its ``configfile`` and DVC as its ``params``; both paths go
through :func:`validate`, so an unknown key or a wrong type is reported the same way, naming
the file and the key, before any work starts.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gianet.errors import GianetError
from gianet.paths import archive_suffix
from gianet.variants import VARIANTS


class ConfigError(GianetError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


def schema() -> dict:
    """The JSON schema of ``params.yaml`` (shipped as ``gianet/params.schema.json``)."""
    text = resources.files("gianet").joinpath("params.schema.json").read_text()
    return json.loads(text)


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = f"{where}." if error.absolute_path else ""
        keys = ", ".join(f"{prefix}{k}" for k in unknown)
        return (
            f"{source}: unknown key {keys}; allowed here: {', '.join(allowed)}. "
            "Fix the spelling or remove it."
        )
    if error.validator == "required":
        return f"{source}: {where}: {error.message}. Add it (see params.yaml in the repository)."
    return f"{source}: {where}: {error.message}. Fix the value of {where}."


def validate(params: dict, source: str = "params.yaml") -> dict:
    """Check ``params`` against the schema and the variant declaration.

    Args:
        params: the parsed configuration.
        source: how error messages name where the configuration came from.

    Returns:
        ``params`` unchanged, so callers can write ``config = validate(config)``.

    Raises:
        ConfigError: naming ``source``, the key and the fix.
    """
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(e, source) for e in errors))
    return _check_relations(params, source)


def _check_relations(params: dict, source: str) -> dict:
    """What the schema cannot say: variants that exist, consistent ranges. Checks only the
    sections present (a job's settings hold a few)."""
    named = params.get("variants", []) + params.get("report", {}).get("figure_variants", [])
    unknown = [v for v in named if v not in VARIANTS]
    if unknown:
        raise ConfigError(
            f"{source}: variants: unknown variant(s) {', '.join(unknown)}; "
            f"declared in gianet/variants.py: {', '.join(VARIANTS)}"
        )
    if "report" in params and "variants" in params:
        untrained = sorted(set(params["report"]["figure_variants"]) - set(params["variants"]))
        if untrained:
            raise ConfigError(
                f"{source}: report.figure_variants: {', '.join(untrained)} not in variants; "
                "the figure can only show variants that are trained"
            )
    for camera, archive in params.get("sid", {}).get("archives", {}).items():
        if not archive["path"]:
            try:
                archive_suffix(archive["url"])
            except ValueError as exc:
                raise ConfigError(
                    f"{source}: sid.archives.{camera}.url: {exc}; give the archive's URL "
                    f"or set sid.archives.{camera}.path to an archive you have"
                ) from None
    if "train" in params:
        low, high = params["train"]["multi_size_b"]
        if low > high:
            raise ConfigError(f"{source}: train.multi_size_b: [{low}, {high}] must be [low, high].")
    return params


def deep_merge(base: dict, override: dict) -> dict:
    """Return a copy of ``base`` with ``override`` merged in, nested dictionaries key by key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_params(path: str | Path = "params.yaml", override: dict | None = None) -> dict:
    """Read, merge and validate a configuration file.

    Args:
        path: a YAML file in the format of the repository's ``params.yaml``.
        override: values merged on top (as a ``--configfile`` is merged by Snakemake).

    Tests, benchmarks and notebooks read the repository's configuration this way; stage
    jobs never do: their rule hands them their settings.

    Raises:
        ConfigError: the file is missing, not YAML, or fails validation.
    """
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file; pass --params PATH") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    source = str(path)
    if override:
        params = deep_merge(params, override)
        source = f"{path} (with command-line overrides)"
    return validate(params, source)


def validate_sections(settings: dict, source: str) -> dict:
    """Check some top-level sections of a configuration (a job's settings) against the schema.

    Every section present must be whole and valid, as in params.yaml; sections absent are not
    required. A stage job receives exactly the sections its rule hands it this way.

    Raises:
        ConfigError: naming ``source``, the key and the fix.
    """
    partial = schema() | {"required": []}
    validator = jsonschema.Draft202012Validator(partial)
    errors = sorted(validator.iter_errors(settings), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(e, source) for e in errors))
    return _check_relations(settings, source)


def parse_section(text: str, section: str) -> dict:
    """One whole params.yaml section given as JSON (``--settings``, as a rule passes it).

    Raises:
        ConfigError: not a JSON object, or not a valid ``section``.
    """
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--settings: not valid JSON ({exc}): {text[:200]}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--settings: expected a JSON object, the {section} section")
    return validate_sections({section: value}, f"--settings ({section} section)")[section]

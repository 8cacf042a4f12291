"""Reading a configuration: YAML files merged in order, validated into :class:`Params`.

Snakemake reads params.yaml as its ``configfile`` (with ``--configfile``/``--config`` merged
over it) and hands the merged mapping to :func:`validate_params`; ``gianet check-params`` and a
stage run by hand with ``--params`` read files with :func:`load_params`. Both word every problem
the same way, naming the source, the key and the fix, all problems at once.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gianet.errors import GianetError, one_line
from gianet.settings.checks import problems
from gianet.settings.sections import Params

#: A configuration holds a few hundred values; more nodes than this are an alias bomb or a
#: self-referencing YAML anchor, refused before validation walks them.
MAX_NODES = 100_000


class ConfigError(GianetError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


def validate_params(mapping: Mapping[str, Any], source: str = "params.yaml") -> Params:
    """The typed configuration, or every problem with it.

    Args:
        mapping: the parsed configuration (params.yaml with any overrides merged in).
        source: how messages name where it came from.

    Raises:
        ConfigError: one line per problem, naming ``source``, the key and the fix.
    """
    check_values(mapping, source)
    try:
        params = Params.model_validate(mapping)
    except ValidationError as exc:
        raise ConfigError("\n".join(describe(exc, source))) from None
    found: dict[str, str] = {}
    for key, message in problems(params):
        found.setdefault(key, f"{source}: {key}: {message}")  # the first problem of each key
    if found:
        raise ConfigError("\n".join(found.values()))
    return params


def describe(error: ValidationError, source: str, prefix: str = "") -> list[str]:
    """One line per problem pydantic found, in the words params.yaml's reader needs."""
    lines = []
    for item in sorted(error.errors(), key=lambda e: [str(part) for part in e["loc"]]):
        location = [str(part) for part in item["loc"] if part != "[key]"]
        key = prefix + ".".join(location) if location else prefix.rstrip(".") or "(top level)"
        kind = item["type"]
        if kind == "json_invalid":
            lines.append(f"{source}: not valid JSON ({item['msg']}); give a JSON object")
        elif kind == "extra_forbidden":
            lines.append(f"{source}: unknown key {key}. Fix the spelling or remove it.")
        elif kind == "value_error":
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {message}" if not location else f"{source}: {key}: {message}")
        elif kind == "missing":
            lines.append(f"{source}: {key}: missing. Add it (see params.yaml in the repository).")
        else:
            given = one_line(repr(item.get("input")), 80)
            lines.append(
                f"{source}: {key}: {item['msg'].rstrip('.')}, got {given}. Fix the value of {key}."
            )
    return lines


def load_params(path: str | Path, overrides: Iterable[str | Path] = ()) -> Params:
    """Read ``path`` and the ``overrides`` files merged over it in order (as Snakemake merges
    ``--configfile`` files over its configfile), then validate.

    Raises:
        ConfigError: a file is missing or not YAML, or the merged configuration is invalid.
    """
    merged = read_yaml(Path(path))
    names = [str(path)]
    for override in overrides:
        merged = deep_merge(merged, read_yaml(Path(override), allow_empty=True))
        names.append(str(override))
    source = names[0] if len(names) == 1 else f"{names[0]} (with {', '.join(names[1:])} merged)"
    return validate_params(merged, source)


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """A copy of ``base`` with ``override`` merged in, nested mappings key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_yaml(path: Path, allow_empty: bool = False) -> dict:
    """A configuration file's mapping, read as UTF-8 YAML.

    Args:
        path: the file.
        allow_empty: read a file without any value (empty, or comments only) as ``{}``.

    Raises:
        ConfigError: the file is missing, a folder, not UTF-8, not YAML, not a mapping, or an
            alias bomb (see :data:`MAX_NODES`).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a configuration file; name the file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start} is invalid); save it as UTF-8"
        ) from None
    except MemoryError:
        raise _too_large(path) from None
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path}: not valid YAML ({one_line(exc, 300)}); fix the syntax there"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a configuration") from None
    except MemoryError:
        raise _too_large(path) from None
    if params is None and allow_empty:
        return {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    check_values(params, str(path))
    return params


def _too_large(path: Path) -> ConfigError:
    return ConfigError(
        f"{path}: reading it ran out of memory; a params file is a few kilobytes, so this is "
        "not one: check the path"
    )


def check_values(params: Any, source: str) -> None:
    """Refuse what no model should walk: YAML whose anchors expand past :data:`MAX_NODES`
    values (or refer to themselves), and numbers that are not finite (``.nan``, ``.inf``),
    naming the key."""
    pending: list[tuple[str, Any]] = [("", params)]
    seen = 0
    while pending:
        where, node = pending.pop()
        seen += 1
        if seen > MAX_NODES:
            raise ConfigError(
                f"{source}: holds more than {MAX_NODES} values once its YAML aliases are "
                "expanded (or an alias that refers to itself); a configuration has a few "
                "hundred: remove the aliases"
            )
        if isinstance(node, Mapping):
            pending.extend((f"{where}.{key}" if where else str(key), v) for key, v in node.items())
        elif isinstance(node, list):
            pending.extend((f"{where}.{index}", item) for index, item in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise ConfigError(f"{source}: {where}: {node} is not a finite number; give a number")

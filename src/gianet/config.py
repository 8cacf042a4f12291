"""Loading and validating ``params.yaml``, the one configuration of gianet.

Snakemake reads the same file as its ``configfile`` and DVC as its ``params``; both paths go
through :func:`validate`, so an unknown key or a wrong type is reported the same way, naming
the file and the key, before any work starts.
"""

from __future__ import annotations

import copy
import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gianet.errors import GianetError, one_line
from gianet.paths import archive_suffix
from gianet.variants import VARIANTS


class ConfigError(GianetError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


#: Colour-filter period of each camera's mosaic (Bayer 2 x 2, X-Trans 6 x 6) and how many raw
#: pixels one packed pixel spans per side (the network's upscale: 2, and 3 for X-Trans).
CFA_PERIOD = {"Sony": 2, "Fuji": 6}
UPSCALE = {"Sony": 2, "Fuji": 3}
#: Packed frame sizes (height, width) of the real SID data: Sony ARW 2848 x 4256 packed 2 x 2;
#: Fuji RAF 4032 x 6030 (cut to multiples of 6 as SID's code does) packed 3 x 3.
SID_PACKED_FRAMES = {"Sony": (1424, 2128), "Fuji": (1344, 2010)}
#: MS-SSIM's smallest image side, gianet.training.losses.MS_SSIM_MIN_SIDE (piq's 5 scales and
#: 11-px window: 10 * 2**4 + 1); repeated here because gianet.training.losses imports torch, and
#: a test keeps the two equal.
MS_SSIM_MIN_SIDE = 161
#: A configuration holds a few hundred values; more nodes than this are an alias bomb or a
#: self-referencing YAML anchor, refused before validation walks them.
MAX_NODES = 100_000


@cache
def schema() -> dict:
    """The JSON schema of ``params.yaml`` (shipped as ``gianet/params.schema.json``).

    Read once: every call returns the same dict, so treat it as read-only (a caller that
    needs a variant builds a new dict around it, as :func:`validate_sections` does).
    """
    text = resources.files("gianet").joinpath("params.schema.json").read_text()
    return json.loads(text)


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(map(str, set(error.instance) - set(allowed)))
        prefix = f"{where}." if error.absolute_path else ""
        keys = ", ".join(f"{prefix}{k}" for k in unknown)
        return (
            f"{source}: unknown key {keys}; allowed here: {', '.join(allowed)}. "
            "Fix the spelling or remove it."
        )
    if error.validator == "required":
        return f"{source}: {where}: {error.message}. Add it (see params.yaml in the repository)."
    return f"{source}: {where}: {one_line(error.message, 300)}. Fix the value of {where}."


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
    return _validate_against(schema(), params, source)


def _validate_against(the_schema: dict, params: dict, source: str) -> dict:
    """``params`` checked against ``the_schema`` (:func:`schema` or a relaxed copy of it),
    then by :func:`_check_relations`; every schema error is reported, sorted by key."""
    _check_values(params, source)
    validator = jsonschema.Draft202012Validator(the_schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("\n".join(_describe(e, source) for e in errors))
    return _check_relations(params, source)


def _check_relations(params: dict, source: str) -> dict:
    """What the schema cannot say: variants that exist, consistent ranges, archives given as
    http(s) URLs, SID's ``_00`` tables only where a camera is tested on all exposures,
    sid-synth frames that fit the cameras' mosaics, and training crops that fit the frames and
    MS-SSIM's smallest size. Checks only the sections present (a job's settings
    hold a few)."""
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
        _check_archive(camera, archive, source)
    if "multi_size_b" in params.get("train", {}):
        low, high = params["train"]["multi_size_b"]
        if low > high:
            raise ConfigError(f"{source}: train.multi_size_b: [{low}, {high}] must be [low, high].")
    if params.get("report", {}).get("first_shot_tables") and "evaluate" in params:
        _check_first_shot_tables(params, source)
    if "synth" in params and params.get("dataset") == "sid-synth":
        for camera in params.get("cameras", []):
            check_synth_frame(params["synth"], camera, source)
    if all(key in params for key in ("dataset", "cameras", "variants", "train", "synth")):
        for camera in params["cameras"]:
            _check_crops(params, camera, source)
    return params


def _check_first_shot_tables(params: dict, source: str) -> None:
    """SID's ``_00`` tables are computed from per-image results, so at least one camera must
    be tested on all its exposures (with ``first`` everywhere Tables 1-3 already are them)."""
    exposures = params["evaluate"]["test_exposures"]
    cameras = params.get("cameras", list(exposures))
    if not any(exposures[camera] == "all" for camera in cameras):
        raise ConfigError(
            f"{source}: report.first_shot_tables: true needs evaluate.test_exposures all for at "
            f"least one of {', '.join(cameras)} (tested on first only, Tables 1-3 already follow "
            "SID's _00 protocol); set report.first_shot_tables to false or test all exposures"
        )


def _check_archive(camera: str, archive: dict, source: str) -> None:
    key = f"sid.archives.{camera}"
    scheme = archive["url"].split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        local = " (a local file goes in path, not in the URL)" if scheme == "file" else ""
        raise ConfigError(
            f"{source}: {key}.url: {scheme}:// URLs are not downloaded{local}; give the "
            f"archive's http(s) URL, or set {key}.path to an archive you have"
        )
    if not archive["path"]:
        try:
            archive_suffix(archive["url"])
        except ValueError as exc:
            raise ConfigError(
                f"{source}: {key}.url: {exc}; give the archive's URL or set {key}.path to an "
                "archive you have"
            ) from None


def check_synth_frame(synth: dict, camera: str, source: str) -> None:
    """sid-synth's frame must tile the camera's colour-filter pattern.

    Raises:
        ConfigError: naming ``synth.height`` or ``synth.width`` and the nearest valid value.
    """
    period = CFA_PERIOD[camera]
    for key in ("height", "width"):
        size = synth[key]
        if size % period:
            raise ConfigError(
                f"{source}: synth.{key}: {size} is not a multiple of {camera}'s colour-filter "
                f"period {period}; use {max(period, size - size % period)}"
            )


def packed_frame(params: dict, camera: str) -> tuple[int, int]:
    """(height, width) in packed pixels of the camera's frames in the configured dataset."""
    if params["dataset"] == "sid":
        return SID_PACKED_FRAMES[camera]
    upscale = UPSCALE[camera]
    return params["synth"]["height"] // upscale, params["synth"]["width"] // upscale


def _check_crops(params: dict, camera: str, source: str) -> None:
    """Training crops of every variant fit the camera's frames, and are large enough for
    MS-SSIM where the variant's loss uses it (so nothing fails after synthesis and packing)."""
    height, width = packed_frame(params, camera)
    frames = (
        f"{camera}'s SID frames ({height} x {width} packed pixels)"
        if params["dataset"] == "sid"
        else f"{camera}'s sid-synth frames ({height} x {width} packed pixels, synth.height and "
        "synth.width divided by the packing)"
    )
    for name in params["variants"]:
        check_variant_crops(params["train"], name, camera, source, (min(height, width), frames))


def check_variant_crops(
    train: dict, name: str, camera: str, source: str, frame: tuple[int, str] | None = None
) -> None:
    """One variant's training crops on one camera: at least MS-SSIM's minimum when its loss
    uses it, and no larger than ``frame`` (the frames' shorter side and how to name them).

    Raises:
        ConfigError: naming ``source``, the key and the fix.
    """
    variant = VARIANTS[name]
    if variant.crops == "fixed":
        key, smallest, largest = "train.patch", train["patch"], train["patch"]
    else:
        low, high = train["multi_size_b"]
        key = "train.multi_size_a x train.multi_size_b"
        smallest, largest = train["multi_size_a"] * low, train["multi_size_a"] * high
    if frame is not None and largest > frame[0]:
        raise ConfigError(
            f"{source}: {key}: variant {name} crops squares of up to {largest} packed "
            f"pixels, larger than {frame[1]}; make the crops smaller or the frames larger"
        )
    needed = -(-MS_SSIM_MIN_SIDE // UPSCALE[camera])
    if variant.loss == "l1+ms-ssim" and smallest < needed:
        raise ConfigError(
            f"{source}: {key}: variant {name} trains with MS-SSIM, which needs outputs of "
            f"at least {MS_SSIM_MIN_SIDE} px, so {camera} crops of at least {needed} "
            f"packed pixels; its smallest crop is {smallest}. Raise {key} or drop {name}"
        )


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
    params = read_yaml(path)
    source = str(path)
    if override:
        params = deep_merge(params, override)
        source = f"{path} (with command-line overrides)"
    return validate(params, source)


def _too_large(path: Path) -> ConfigError:
    return ConfigError(
        f"{path}: reading it ran out of memory; a params file is a few kilobytes, so this is "
        "not one: check the path"
    )


def read_yaml(path: Path, allow_empty: bool = False) -> dict:
    """A configuration file's mapping, read as UTF-8 YAML.

    Args:
        path: the file.
        allow_empty: read a file without any value (empty, or comments only) as ``{}``
            rather than refuse it.

    Raises:
        ConfigError: the file is missing, a folder, not UTF-8, not YAML, not a mapping, or
            an alias bomb (see :data:`MAX_NODES`).
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
    return params


def _check_values(params: Any, source: str) -> None:
    """Refuse what the schema lets through: YAML whose anchors expand past :data:`MAX_NODES`
    values (or refer to themselves), checked before validation walks it, and numbers that are
    not finite (``.nan``, ``.inf``), naming the key."""
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
        if isinstance(node, dict):
            pending.extend((f"{where}.{key}" if where else str(key), v) for key, v in node.items())
        elif isinstance(node, list):
            pending.extend((f"{where}.{index}", item) for index, item in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise ConfigError(f"{source}: {where}: {node} is not a finite number; give a number")


def validate_sections(
    settings: dict, source: str, optional: dict[str, frozenset[str]] | None = None
) -> dict:
    """Check some top-level sections of a configuration (a job's settings) against the schema.

    Every section present must be whole and valid, as in params.yaml, but for the keys
    ``optional`` names per section; sections absent are not required. A stage job receives
    exactly the sections its rule hands it this way.

    Raises:
        ConfigError: naming ``source``, the key and the fix.
    """
    partial = schema() | {"required": []}
    for section, keys in (optional or {}).items():
        part = dict(partial["properties"][section])
        part["required"] = [key for key in part.get("required", []) if key not in keys]
        partial["properties"] = partial["properties"] | {section: part}
    return _validate_against(partial, settings, source)


def parse_section(
    text: str, section: str, flag: str = "--settings", optional: frozenset[str] = frozenset()
) -> dict:
    """One params.yaml section given as JSON (``--settings``, or ``flag``, as a rule passes
    it): whole, but for the ``optional`` keys (the settings a variant does not use).

    Raises:
        ConfigError: not a JSON object, or not a valid ``section``.
    """
    try:
        value: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(f"{flag}: not valid JSON ({one_line(exc)}): {one_line(text)}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: expected a JSON object, the {section} section")
    checked = validate_sections(
        {section: value}, f"{flag} ({section} section)", {section: optional}
    )
    return checked[section]

"""LaTeX tables (booktabs) of our numbers beside the paper's Tables 1 to 4.

Tables 1 to 3 list the paper's models in the paper's order. Each model has a ``paper`` row
(the published number, printed verbatim from ``paper_results.csv``) and an ``ours`` row
(the mean over our test images, from the evaluation's ``summary.json``), with one column
group per camera and one column per metric. Conventions:

- A variant that was not run keeps its row, with dashes, so every table keeps the paper's
  shape and a missing run shows as missing rather than vanishing.
- A dash also marks a metric that is unavailable (``null`` in the summary, e.g. LPIPS
  without its weights) or that the paper does not give.
- Models the paper only quotes (:data:`gianet.variants.QUOTED_ONLY`) have a paper row only,
  marked with a dagger.
- Our rows name the dataset they were measured on, and so does the caption: on sid-synth they
  are labelled synthetic-data numbers and are never presented as SID numbers.
- A note under each table states the protocol our numbers follow, as the evaluations
  recorded it (:func:`protocol_note`): test images, exposures and excluded scenes per camera,
  the levels, LPIPS's backbone and the training readings.
- Tables 1 to 3 can also be rendered under SID's test protocol (each test scene's ``_00``
  shots), from the per-image results of evaluations on all exposures
  (:func:`first_shot_summaries`).

Summaries passed to one call must come from a single dataset.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from gianet import atomic
from gianet.variants import QUOTED_ONLY, VARIANTS, Variant, get_variant

#: Cameras in the paper's column order.
CAMERAS = ("Sony", "Fuji")
#: Keys every evaluation summary must have (metrics may be ``None``).
SUMMARY_KEYS = ("dataset", "camera", "variant", "n_images", "psnr", "ssim", "lpips", "pieapp")
#: Keys every cost row must have (``input_shape``, ``"CxHxW"``, is optional).
COST_KEYS = ("variant", "camera", "params", "flops", "params_ratio", "flops_ratio")
RESULT_TABLES = (1, 2, 3)


@dataclass(frozen=True)
class Metric:
    """A column of Tables 1 to 3: summary key, header, arrow (better direction), decimals."""

    key: str
    header: str
    better: str
    decimals: int


#: The paper's metric columns, in its order.
METRICS = (
    Metric("psnr", "PSNR", r"$\uparrow$", 2),
    Metric("ssim", "SSIM", r"$\uparrow$", 3),
    Metric("pieapp", "PieAPP", r"$\downarrow$", 3),
    Metric("lpips", "LPIPS", r"$\downarrow$", 3),
)

DASH = "--"
DAGGER = r"$^\dagger$"
#: LaTeX's special characters and how :func:`escape_latex` writes them; the HTML reader
#: (:mod:`gianet.report.latex_html`) undoes them in this order, the backslash first.
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
}
#: How our rows under SID's test protocol are named (LaTeX).
FIRST_SHOTS = r"\_00 shots"
#: How the protocol note words each recorded setting's values (LaTeX).
_WORDING: dict[str, dict[Any, str]] = {
    "test_exposures": {"all": "all exposures", "first": r"the \_00 shots"},
    "levels": {"sid": "black and white levels of SID's code", "file": "each raw's own levels"},
    "lpips_backbone": {"alex": "LPIPS on AlexNet", "vgg": "LPIPS on VGG-16"},
    "shots": {"first": r"inputs drawn from the \_00 shots (SID)", "all": "inputs from every shot"},
    "flips": {
        "sid": "flips along both axes and transposes (SID)",
        "sid-before-fix": "vertical flips and transposes (SID before 2018-10-08)",
    },
    "init": {"sid": "SID's initialisation (TF-slim)", "pytorch": "PyTorch's initialisation"},
    "msssim_exponents": {
        "paper": "MS-SSIM exponents 1 (Eq. 3--5)",
        "wang": "MS-SSIM exponents of Wang et al. (piq)",
    },
    "loss_gamma_term": {"l1": "on L1 (Eq. 1)", "ms-ssim": "on MS-SSIM (Zhao et al.)"},
}
_NOT_RECORDED = "not recorded"
_TABLE_TOPICS = {
    1: "comparison with the state of the art",
    2: "global information: dilation, SW blocks and the GIA module",
    3: "ablation of the GIA module, the MS-SSIM loss and multi-size crops",
}


def escape_latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, for use in running text or cells."""
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def read_summaries(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Load evaluation summaries (:func:`gianet.paths.summary_file`)."""
    return [json.loads(Path(path).read_text()) for path in paths]


def results_table(
    table: int, summaries: Sequence[Mapping[str, Any]], *, first_shots: bool = False
) -> str:
    """Table 1, 2 or 3 of the paper with our numbers beside it, as a LaTeX ``table``.

    Args:
        table: the paper's table number, 1 to 3.
        summaries: evaluation summaries of one dataset, each with :data:`SUMMARY_KEYS`;
            ``camera`` is ``"Sony"`` or ``"Fuji"``, ``variant`` a declared variant name.
            Summaries of variants that do not appear in this table are ignored.
        first_shots: the summaries are :func:`first_shot_summaries`: the table is the
            second one, under SID's ``_00`` test protocol (caption, label and row names say
            so).

    Returns:
        The LaTeX source, needing the ``booktabs`` package.
    """
    if table not in RESULT_TABLES:
        raise ValueError(f"results tables are {RESULT_TABLES}, got {table}")
    dataset, ours = _index_summaries(summaries)
    paper = _paper_results()
    source = f"ours ({escape_latex(dataset)}{', ' + FIRST_SHOTS if first_shots else ''})"
    n_columns = 2 + len(CAMERAS) * len(METRICS)
    lines = [
        rf"\begin{{tabular}}{{ll{'c' * (n_columns - 2)}}}",
        r"\toprule",
        " & & "
        + " & ".join(rf"\multicolumn{{{len(METRICS)}}}{{c}}{{{camera}}}" for camera in CAMERAS)
        + r" \\",
        "".join(
            rf"\cmidrule(lr){{{3 + i * len(METRICS)}-{2 + (i + 1) * len(METRICS)}}}"
            for i in range(len(CAMERAS))
        ),
        "Model & Source & "
        + " & ".join(f"{m.header}{m.better}" for _ in CAMERAS for m in METRICS)
        + r" \\",
        r"\midrule",
    ]
    for model in _paper_models(table):
        variant = _variant_for(table, model)
        name = _row_name(table, model, variant)
        paper_cells = [
            paper.get((table, camera.lower(), model), {}).get(m.key) or DASH
            for camera in CAMERAS
            for m in METRICS
        ]
        if variant is None:
            lines.append(_row([name + DAGGER, "paper", *paper_cells]))
            continue
        our_cells = [
            _format_ours(ours.get((camera, variant.name), {}).get(m.key), m.decimals)
            for camera in CAMERAS
            for m in METRICS
        ]
        lines.append(_row([name, "paper", *paper_cells]))
        lines.append(_row(["", source, *our_cells]))
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = _results_caption(table, dataset, ours, first_shots)
    label = f"tab:table{table}-{'first-' if first_shots else ''}{_label_safe(dataset)}"
    return _table_environment(caption, label, lines, protocol_note(ours.values()))


def first_shot_summaries(
    summaries: Sequence[Mapping[str, Any]], rows: Sequence[Sequence[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """The summaries under SID's test protocol: means over each evaluation's ``_00`` shots.

    Args:
        summaries: evaluation summaries (:data:`SUMMARY_KEYS`, ``protocol`` optional).
        rows: for each summary, its per-image results (the evaluation's CSV rows), each with
            ``shot`` and the metrics computed.

    Returns:
        Copies of ``summaries`` with the metrics' means and ``n_images`` over the rows of
        shot 0, and ``protocol.test_exposures`` ``"first"`` (an evaluation on ``_00`` shots
        only is returned as it was).

    Raises:
        ValueError: an evaluation has no ``_00`` shot among its rows.
    """
    derived = []
    for summary, images in zip(summaries, rows, strict=True):
        first = [row for row in images if int(row["shot"]) == 0]
        if not first:
            raise ValueError(
                f"{summary['camera']}/{summary['variant']}: no _00 shot among its "
                f"{len(images)} evaluated images; SID's protocol has nothing to average"
            )
        means = {
            m.key: (sum(float(row[m.key]) for row in first) / len(first))
            if summary.get(m.key) is not None and all(m.key in row for row in first)
            else None
            for m in METRICS
        }
        row = {**summary, **means, "n_images": len(first)}
        if summary.get("protocol"):
            row["protocol"] = {**summary["protocol"], "test_exposures": "first"}
        derived.append(row)
    return derived


def cost_table(costs: Sequence[Mapping[str, Any]]) -> str:
    """A Table-4-style cost table: parameters and FLOPs, paper beside ours, per variant.

    Args:
        costs: rows with :data:`COST_KEYS`: ``params`` a parameter count, ``flops`` a FLOP
            count (2 x multiply-adds) of one full frame, the ratios relative to SID-Net on the
            same camera; ``input_shape`` (``"CxHxW"`` packed input) is printed when present.

    Rows are grouped by camera, then follow the variant declaration order; the paper's SID-Net
    and GIA-Net rows (Sony) appear even without a cost row of ours, with dashes.
    """
    paper = _paper_costs()
    ours: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in costs:
        _require_keys(row, COST_KEYS, "cost row")
        ours[(get_variant(row["variant"]).name, _camera(row["camera"]))] = row
    paper_keys = {(v.name, "Sony") for v in VARIANTS.values() if v.label in paper}
    keys = sorted(
        ours.keys() | paper_keys,
        key=lambda key: (CAMERAS.index(key[1]), list(VARIANTS).index(key[0])),
    )
    groups = ("Params (M)", r"Params $\times$", "FLOPs (G)", r"FLOPs $\times$")
    lines = [
        r"\begin{tabular}{ll" + "c" * 2 * len(groups) + "}",
        r"\toprule",
        " & & " + " & ".join(rf"\multicolumn{{2}}{{c}}{{{g}}}" for g in groups) + r" \\",
        "".join(rf"\cmidrule(lr){{{3 + 2 * i}-{4 + 2 * i}}}" for i in range(len(groups))),
        "Camera & Model & " + " & ".join(["paper & ours"] * len(groups)) + r" \\",
    ]
    previous_camera = None
    for name, camera in keys:
        if camera != previous_camera:
            lines.append(r"\midrule")
        label = VARIANTS[name].label
        published = paper.get(label, {}) if camera == "Sony" else {}
        row = ours.get((name, camera))
        mine = (
            [
                _format_ours(row["params"] / 1e6, 2),
                _format_ours(row["params_ratio"], 3),
                _format_ours(row["flops"] / 1e9, 2),
                _format_ours(row["flops_ratio"], 3),
            ]
            if row
            else [DASH] * len(groups)
        )
        theirs = [
            published.get(key) or DASH
            for key in ("params_millions", "params_ratio", "flops_billions", "flops_ratio")
        ]
        cells = [cell for pair in zip(theirs, mine, strict=True) for cell in pair]
        lines.append(
            _row([camera if camera != previous_camera else "", escape_latex(label), *cells])
        )
        previous_camera = camera
    lines += [r"\bottomrule", r"\end{tabular}"]
    shapes = {_camera(row["camera"]): row["input_shape"] for row in costs if "input_shape" in row}
    ours_frames = "; ".join(f"{c} {shapes[c]}" for c in CAMERAS if c in shapes)
    kernels = sorted(
        {
            row["arch_args"]["extra_bottleneck_kernel"]
            for row in costs
            if "extra_bottleneck_kernel" in row.get("arch_args", {})
        }
    )
    note = (
        "Model 2 (SID-Net + 2 convs): its two added bottleneck convolutions are "
        + " and ".join(f"{k} $\\times$ {k}" for k in kernels)
        + " (train.extra\\_convs\\_kernel)."
        if kernels
        else None
    )
    caption = (
        "Model cost (the paper's Table 4): parameters in millions and FLOPs in billions "
        "(2 $\\times$ multiply-adds) for one full frame; $\\times$: ratio to SID-Net on the "
        "same camera. Paper: a Sony frame of 4240 $\\times$ 2832 pixels (packed "
        "4 $\\times$ 1416 $\\times$ 2120), SID-Net and GIA-Net only."
        + (f" Ours: packed inputs {escape_latex(ours_frames)}." if ours_frames else "")
        + f" {DASH}: not reported or not computed."
    )
    return _table_environment(caption, "tab:table4-cost", lines, note)


def protocol_note(summaries: Iterable[Mapping[str, Any]]) -> str:
    """The protocol our numbers follow, as their evaluations recorded it (``protocol`` of each
    summary, :func:`gianet.evaluation.evaluate.protocol_of`), as one LaTeX sentence for under a
    table: per camera the test images, exposures and excluded scenes; then the levels, LPIPS's
    backbone and the training readings. A setting that differs between runs is listed as
    mixed; one a summary does not record, as not recorded."""
    summaries = list(summaries)
    recorded = any(s.get("protocol") for s in summaries)
    cameras = []
    for camera in CAMERAS:
        runs = [s for s in summaries if _camera(s["camera"]) == camera]
        if not runs:
            continue
        images = f"{camera} {_span([int(s['n_images']) for s in runs])} test images"
        if recorded:
            exposures = _recorded(runs, "test_exposures")
            excluded = _recorded(runs, "exclude_scenes", _excluded_words)
            images += f" ({exposures}; {excluded})"
        cameras.append(images)
    if not recorded:
        return f"Protocol: {'; '.join(cameras)}; the evaluations recorded nothing more."
    settings = [_recorded(summaries, "levels")]
    if any((s.get("protocol") or {}).get("lpips_backbone") for s in summaries):
        settings.append(_recorded(summaries, "lpips_backbone"))
    gamma = _recorded(summaries, "loss_gamma", lambda v: f"{v:g}", training=True)
    term = _recorded(summaries, "loss_gamma_term", training=True)
    kernel = _recorded(
        summaries, "extra_convs_kernel", lambda k: f"{k} $\\times$ {k}", training=True
    )
    training = [
        _recorded(summaries, "shots", training=True),
        _recorded(summaries, "flips", training=True),
        _recorded(summaries, "init", training=True),
        _recorded(summaries, "msssim_exponents", training=True),
        f"$\\gamma$ = {gamma} {term}",
        f"model 2's added convolutions {kernel}",
        f"precision {_recorded(summaries, 'precision', training=True)}",
    ]
    return (
        f"Protocol: {'; '.join(cameras)}; {'; '.join(settings)}. Training: {', '.join(training)}."
    )


def _recorded(
    summaries: Sequence[Mapping[str, Any]],
    key: str,
    words: Any = None,
    training: bool = False,
) -> str:
    """How the summaries' recorded ``key`` reads (``words`` or :data:`_WORDING`)."""
    values = []
    for summary in summaries:
        protocol = summary.get("protocol") or {}
        value = (protocol.get("training") or {}).get(key) if training else protocol.get(key)
        if value is not None and value not in values:
            values.append(value)
    if not values:
        return f"{escape_latex(key)} {_NOT_RECORDED}"

    def word(value: Any) -> str:
        if words is not None:
            return words(value)
        return _WORDING.get(key, {}).get(value, escape_latex(str(value)))

    return word(values[0]) if len(values) == 1 else "mixed: " + " / ".join(map(word, values))


def _excluded_words(scenes: list[int]) -> str:
    if not scenes:
        return "no scene excluded"
    return ("scene " if len(scenes) == 1 else "scenes ") + ", ".join(map(str, scenes)) + " excluded"


def _span(values: list[int]) -> str:
    return f"{min(values)}" + (f"--{max(values)}" if len(set(values)) > 1 else "")


def write_tables(
    summaries: Sequence[Mapping[str, Any]],
    costs: Sequence[Mapping[str, Any]],
    combined: str | Path,
    first_shots: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Path]:
    """Write all tables to ``combined`` and each alone beside it (``table1.tex`` to
    ``table3.tex``, ``table4_cost.tex``, and with ``first_shots`` ``table1_first.tex`` to
    ``table3_first.tex``, each after its table in ``combined``).

    Args:
        summaries: evaluation summaries of one dataset (see :func:`results_table`).
        costs: cost rows (see :func:`cost_table`).
        combined: e.g. ``report/sid-synth/tables.tex``; its folder is created if missing.
        first_shots: :func:`first_shot_summaries` of ``summaries``, for the second tables
            under SID's ``_00`` protocol; ``None``: none.

    Returns:
        File name -> path written.
    """
    combined = Path(combined)
    sources = {}
    for t in RESULT_TABLES:
        sources[f"table{t}.tex"] = results_table(t, summaries)
        if first_shots is not None:
            sources[f"table{t}_first.tex"] = results_table(t, first_shots, first_shots=True)
    sources["table4_cost.tex"] = cost_table(costs)
    written = {name: combined.with_name(name) for name in sources}
    sources[combined.name] = "\n".join(sources.values())
    written[combined.name] = combined
    for name, source in sources.items():
        atomic.write_text(written[name], source)
    return written


@cache
def _paper_results() -> dict[tuple[int, str, str], dict[str, str]]:
    """``(table, camera, model)`` -> metric strings as printed in the paper (empty: absent),
    and the row's ``note``."""
    with files("gianet.report").joinpath("paper_results.csv").open(newline="") as handle:
        return {
            (int(row["table"]), row["camera"], row["model"]): {
                **{m.key: row[m.key] for m in METRICS},
                "note": row["note"],
            }
            for row in csv.DictReader(handle)
        }


def _paper_models(table: int) -> list[str]:
    """Models of one paper table in the paper's row order."""
    models = [model for t, _, model in _paper_results() if t == table]
    return list(dict.fromkeys(models))


@cache
def _paper_costs() -> dict[str, dict[str, str]]:
    """Model -> the paper's Table 4 row (strings; empty: not reported)."""
    with files("gianet.report").joinpath("table4_cost.csv").open(newline="") as handle:
        return {row["model"]: row for row in csv.DictReader(handle)}


def _variant_for(table: int, model: str) -> Variant | None:
    """The variant reproducing a paper row; ``None`` for a quoted-only model."""
    for variant in VARIANTS.values():
        if any(row.table == table and row.model == model for row in variant.paper):
            return variant
    if model in QUOTED_ONLY:
        return None
    raise ValueError(f"Table {table} model {model!r} is neither a declared variant nor quoted")


def _row_name(table: int, model: str, variant: Variant | None) -> str:
    """Table 3 numbers its models; the row shows the number and what it is."""
    if table == 3 and variant is not None:
        return f"({escape_latex(model)}) {escape_latex(variant.label)}"
    return escape_latex(model)


def _index_summaries(
    summaries: Sequence[Mapping[str, Any]],
) -> tuple[str, dict[tuple[str, str], Mapping[str, Any]]]:
    """The single dataset of ``summaries`` and the summaries by ``(camera, variant)``."""
    if not summaries:
        raise ValueError("no evaluation summaries: run the evaluation first")
    indexed: dict[tuple[str, str], Mapping[str, Any]] = {}
    for summary in summaries:
        _require_keys(summary, SUMMARY_KEYS, "summary")
        key = (_camera(summary["camera"]), get_variant(summary["variant"]).name)
        if key in indexed:
            raise ValueError(f"two summaries for camera {key[0]}, variant {key[1]}")
        indexed[key] = summary
    datasets = sorted({summary["dataset"] for summary in summaries})
    if len(datasets) > 1:
        raise ValueError(f"summaries mix datasets {datasets}; make one report per dataset")
    return datasets[0], indexed


def _require_keys(row: Mapping[str, Any], keys: Sequence[str], what: str) -> None:
    missing = [key for key in keys if key not in row]
    if missing:
        raise ValueError(f"{what} {dict(row)} lacks {missing}")


def _camera(name: str) -> str:
    for camera in CAMERAS:
        if str(name).lower() == camera.lower():
            return camera
    raise ValueError(f"unknown camera {name!r}; expected one of {CAMERAS}")


def _format_ours(value: float | None, decimals: int) -> str:
    if value is None or math.isnan(value):
        return DASH
    if math.isinf(value):
        return r"$\infty$" if value > 0 else r"$-\infty$"
    return f"{value:.{decimals}f}"


def _row(cells: Sequence[str]) -> str:
    return " & ".join(cells) + r" \\"


def _label_safe(text: str) -> str:
    return "".join(char if char.isalnum() or char == "-" else "-" for char in text)


def _results_caption(
    table: int,
    dataset: str,
    ours: Mapping[tuple[str, str], Mapping[str, Any]],
    first_shots: bool = False,
) -> str:
    counts: dict[str, set[int]] = {}
    for (camera, _), summary in ours.items():
        counts.setdefault(camera, set()).add(int(summary["n_images"]))
    images = ", ".join(
        f"{camera} {min(n)}" + (f"--{max(n)}" if len(n) > 1 else "")
        for camera, n in sorted(counts.items(), key=lambda item: CAMERAS.index(item[0]))
    )
    if dataset == "sid":
        where = "on the SID test set, full resolution"
    elif dataset == "sid-synth":
        where = (
            "on sid-synth, the embedded \\emph{synthetic} dataset (simulated raw pairs in SID's "
            "format: Sony-like Bayer and Fuji-like X-Trans). Our numbers are synthetic-data "
            "numbers, not SID numbers, and are not comparable with the paper's"
        )
    else:
        where = f"on the dataset {escape_latex(dataset)}. Our numbers are not SID numbers"
    quoted = {  # quoted-only models and what the paper's numbers for them are
        model: next(
            v["note"] for (t, _, m), v in _paper_results().items() if (t, m) == (table, model)
        )
        for model in _paper_models(table)
        if _variant_for(table, model) is None
    }
    protocol = (
        " Ours under SID's test protocol: only the \\_00 shot(s) of each test scene (SID's "
        "test\\_Sony.py), means over the same evaluations' per-image results."
        if first_shots
        else ""
    )
    return (
        f"Table {table} of the paper ({_TABLE_TOPICS[table]}), measured on the SID test set, "
        f"beside our reproduction {where}.{protocol} Test images per camera: {images}. "
        f"Means over test images; {DASH}: not run, not available or not reported."
        + (
            f" {DAGGER}Quoted by the paper, not retrained: "
            + "; ".join(f"{escape_latex(m)}, {escape_latex(n)}" for m, n in quoted.items())
            + "."
            if quoted
            else ""
        )
    )


def _table_environment(
    caption: str, label: str, tabular: Sequence[str], note: str | None = None
) -> str:
    """A ``table`` float: caption, label, the tabular, and ``note`` (LaTeX) beneath it."""
    return "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\caption{{{caption}}}",
            rf"\label{{{label}}}",
            *tabular,
            *([rf"\par\smallskip{{\footnotesize {note}}}"] if note else []),
            r"\end{table}",
            "",
        ]
    )

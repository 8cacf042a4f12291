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
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TABLE_TOPICS = {
    1: "comparison with the state of the art",
    2: "global information: dilation, SW blocks and the GIA module",
    3: "ablation of the GIA module, the MS-SSIM loss and multi-size crops",
}


def escape_latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, for use in running text or cells."""
    return "".join(_LATEX_SPECIALS.get(char, char) for char in text)


def read_summaries(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Load evaluation summaries (:func:`gianet.paths.summary_file`)."""
    return [json.loads(Path(path).read_text()) for path in paths]


def results_table(table: int, summaries: Sequence[Mapping[str, Any]]) -> str:
    """Table 1, 2 or 3 of the paper with our numbers beside it, as a LaTeX ``table``.

    Args:
        table: the paper's table number, 1 to 3.
        summaries: evaluation summaries of one dataset, each with :data:`SUMMARY_KEYS`;
            ``camera`` is ``"Sony"`` or ``"Fuji"``, ``variant`` a declared variant name.
            Summaries of variants that do not appear in this table are ignored.

    Returns:
        The LaTeX source, needing the ``booktabs`` package.
    """
    if table not in RESULT_TABLES:
        raise ValueError(f"results tables are {RESULT_TABLES}, got {table}")
    dataset, ours = _index_summaries(summaries)
    paper = _paper_results()
    source = f"ours ({escape_latex(dataset)})"
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
    caption = _results_caption(table, dataset, ours)
    return _table_environment(caption, f"tab:table{table}-{_label_safe(dataset)}", lines)


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
    caption = (
        "Model cost (the paper's Table 4): parameters in millions and FLOPs in billions "
        "(2 $\\times$ multiply-adds) for one full frame; $\\times$: ratio to SID-Net on the "
        "same camera. Paper: a Sony frame of 4240 $\\times$ 2832 pixels (packed "
        "4 $\\times$ 1416 $\\times$ 2120), SID-Net and GIA-Net only."
        + (f" Ours: packed inputs {escape_latex(ours_frames)}." if ours_frames else "")
        + f" {DASH}: not reported or not computed."
    )
    return _table_environment(caption, "tab:table4-cost", lines)


def write_tables(
    summaries: Sequence[Mapping[str, Any]],
    costs: Sequence[Mapping[str, Any]],
    combined: str | Path,
) -> dict[str, Path]:
    """Write all four tables to ``combined`` and each alone beside it (``table1.tex`` to
    ``table3.tex``, ``table4_cost.tex``).

    Args:
        summaries: evaluation summaries of one dataset (see :func:`results_table`).
        costs: cost rows (see :func:`cost_table`).
        combined: e.g. ``report/sid-synth/tables.tex``; its folder is created if missing.

    Returns:
        File name -> path written.
    """
    combined = Path(combined)
    sources = {f"table{t}.tex": results_table(t, summaries) for t in RESULT_TABLES}
    sources["table4_cost.tex"] = cost_table(costs)
    written = {name: combined.with_name(name) for name in sources}
    sources[combined.name] = "\n".join(sources.values())
    written[combined.name] = combined
    for name, source in sources.items():
        atomic.write_text(written[name], source)
    return written


@cache
def _paper_results() -> dict[tuple[int, str, str], dict[str, str]]:
    """``(table, camera, model)`` -> metric strings as printed in the paper (empty: absent)."""
    with files("gianet.report").joinpath("paper_results.csv").open(newline="") as handle:
        return {
            (int(row["table"]), row["camera"], row["model"]): {m.key: row[m.key] for m in METRICS}
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
    table: int, dataset: str, ours: Mapping[tuple[str, str], Mapping[str, Any]]
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
    quoted = any(_variant_for(table, model) is None for model in _paper_models(table))
    return (
        f"Table {table} of the paper ({_TABLE_TOPICS[table]}), measured on the SID test set, "
        f"beside our reproduction {where}. Test images per camera: {images}. "
        f"Means over test images; {DASH}: not run, not available or not reported."
        + (
            f" {DAGGER}Quoted by the paper from its original publication, not retrained."
            if quoted
            else ""
        )
    )


def _table_environment(caption: str, label: str, tabular: Sequence[str]) -> str:
    return "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\caption{{{caption}}}",
            rf"\label{{{label}}}",
            *tabular,
            r"\end{table}",
            "",
        ]
    )

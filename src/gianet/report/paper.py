"""The paper's numbers, as shipped with the package: Tables 1 to 3 (``paper_results.csv``) and
Table 4 (``table4_cost.csv``), each kept as the string printed in the paper; and which of
our variants reproduces each of the paper's models."""

from __future__ import annotations

import csv
from functools import cache
from importlib.resources import files

from gianet.domain.metrics import METRIC_NAMES
from gianet.variants import QUOTED_ONLY, VARIANTS, Variant

#: The paper's results tables (Table 4 is the cost table).
RESULT_TABLES = (1, 2, 3)
#: What each of the paper's tables shows.
TOPICS = {
    1: "comparison with the state of the art",
    2: "global information: dilation, SW blocks and the GIA module",
    3: "ablation of the GIA module, the MS-SSIM loss and multi-size crops",
    4: "model cost",
}


@cache
def results() -> dict[tuple[int, str, str], dict[str, str]]:
    """``(table, camera, model)`` -> metric -> the string printed in the paper (``""``: none).

    ``camera`` is the paper's lower-case name (``"sony"``, ``"fuji"``); ``model`` the row's
    name (Table 3 numbers its rows ``"1"`` to ``"9"``). Also ``"note"``: the CSV's remark.
    """
    with files("gianet.report").joinpath("paper_results.csv").open(newline="") as handle:
        return {
            (int(row["table"]), row["camera"], row["model"]): {
                **{metric: row[metric] for metric in METRIC_NAMES},
                "note": row["note"],
            }
            for row in csv.DictReader(handle)
        }


def models(table: int) -> list[str]:
    """The models of one of the paper's results tables, in the paper's row order."""
    return list(dict.fromkeys(model for t, _, model in results() if t == table))


def published(table: int, camera: str, model: str, metric: str) -> str:
    """The number the paper prints for a model, camera and metric; ``""`` when none."""
    return results().get((table, camera.lower(), model), {}).get(metric, "")


@cache
def costs() -> dict[str, dict[str, str]]:
    """The paper's Table 4: model label -> ``params_millions``, ``flops_billions``,
    ``params_ratio``, ``flops_ratio`` as printed (``""``: not reported), and ``note``. The paper
    counts on one Sony frame only."""
    with files("gianet.report").joinpath("table4_cost.csv").open(newline="") as handle:
        return {row["model"]: row for row in csv.DictReader(handle)}


def variant_for(table: int, model: str) -> Variant | None:
    """The variant reproducing a row of the paper's table; ``None`` for a quoted-only model.

    Raises:
        ValueError: the model is neither reproduced by a variant nor quoted.
    """
    for variant in VARIANTS.values():
        if any(row.table == table and row.model == model for row in variant.paper):
            return variant
    if model in QUOTED_ONLY:
        return None
    raise ValueError(f"Table {table} model {model!r} is neither a declared variant nor quoted")


def row_label(table: int, model: str) -> str:
    """How a row is named: Table 3's numbered models as ``"(9) GIA-Net"``, others as the
    paper names them."""
    variant = variant_for(table, model)
    if table == 3 and variant is not None:
        return f"({model}) {variant.label}"
    return model

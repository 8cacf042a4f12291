"""Table 4 of the paper (model cost) as :class:`~gianet.report.model.Table` data.

Parameters and FLOPs of every variant on one full frame, ours (``gianet cost``,
:mod:`gianet.report.costs`) beside the paper's. The paper counts SID-Net and GIA-Net on one
Sony frame only; its other cells are not reported. Costs have no "best": nothing is bold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gianet.domain.cameras import CAMERA_NAMES
from gianet.report import paper
from gianet.report.model import Block, Cell, Column, Ours, Paper, Row, Status, Table
from gianet.report.results_tables import ours_header
from gianet.variants import VARIANTS, get_variant

#: Keys every cost row must have (``input_shape``, ``"CxHxW"``, and ``arch_args`` optional).
COST_KEYS = ("variant", "camera", "params", "flops", "params_ratio", "flops_ratio")
#: Our cost key and its scale, the paper's CSV column, and the column.
COST_COLUMNS = (
    ("params", 1e-6, "params_millions", Column("params_millions", "Params (M)", None, 2)),
    ("params_ratio", 1.0, "params_ratio", Column("params_ratio", "Params ×", None, 3)),
    ("flops", 1e-9, "flops_billions", Column("flops_billions", "FLOPs (G)", None, 2)),
    ("flops_ratio", 1.0, "flops_ratio", Column("flops_ratio", "FLOPs ×", None, 3)),
)


def cost_table(
    costs: Sequence[Mapping[str, Any]], dataset: str, source: str = "", configuration: str = ""
) -> Table:
    """The paper's Table 4 with ours beside it.

    Args:
        costs: rows with :data:`COST_KEYS`: ``params`` a parameter count, ``flops`` a FLOP
            count (2 x multiply-adds) of one full frame, the ratios relative to SID-Net on the
            same camera; ``input_shape`` (``"CxHxW"`` packed input) is named when present.
        dataset: the report's dataset (costs do not depend on it; named for the header).
        source: the file the rows were read from (recorded in each of our cells).
        configuration: a phrase naming the run's configuration, for the caption.

    Rows: per camera (a block each, in the paper's order), every variant with a cost row in
    declaration order; the paper's SID-Net and GIA-Net appear on Sony even without one.
    """
    ours: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in costs:
        missing = [key for key in COST_KEYS if key not in row]
        if missing:
            raise ValueError(f"cost row {dict(row)} lacks {missing}")
        if row["camera"] not in CAMERA_NAMES:
            raise ValueError(f"unknown camera {row['camera']!r}; expected one of {CAMERA_NAMES}")
        ours[(row["camera"], get_variant(row["variant"]).name)] = row
    published = paper.costs()
    on_sony = {(name, "Sony") for name, v in VARIANTS.items() if v.label in published}
    blocks = []
    for camera in CAMERA_NAMES:
        names = [n for n in VARIANTS if (camera, n) in ours or (n, camera) in on_sony]
        if not names:
            continue
        rows = []
        for name in names:
            mine = ours.get((camera, name))
            theirs = published.get(VARIANTS[name].label, {}) if camera == "Sony" else {}
            cells = tuple(
                Cell(
                    Ours.of([float(mine[key]) * scale], [source] if source else [])
                    if mine
                    else Ours(Status.NOT_RUN),
                    Paper(Status.VALUE, theirs[column_name])
                    if theirs.get(column_name)
                    else Paper(),
                )
                for key, scale, column_name, _ in COST_COLUMNS
            )
            label = VARIANTS[name].label
            rows.append(Row(label, label, name, cells))
        blocks.append(Block(camera, tuple(rows)))
    return Table(
        key="table4_cost",
        number=4,
        dataset=dataset,
        caption=_caption(costs, configuration),
        protocol=_kernel_note(costs),
        ours_header="ours",
        columns=tuple(column for *_, column in COST_COLUMNS),
        blocks=tuple(blocks),
        notes=(),
    )


def _caption(costs: Sequence[Mapping[str, Any]], configuration: str) -> tuple[str, ...]:
    shapes = {row["camera"]: row["input_shape"] for row in costs if "input_shape" in row}
    frames = "; ".join(f"{c} {shapes[c]}" for c in CAMERA_NAMES if c in shapes)
    return (
        "Model cost (the paper's Table 4): parameters in millions and FLOPs in billions "
        "(2 × multiply-adds) for one full frame at the paper's network width, whatever the "
        "run trained; ×: ratio to SID-Net on the same camera. Paper: a Sony frame of "
        "4240 × 2832 pixels (packed 4 × 1416 × 2120), SID-Net and GIA-Net only."
        + (f" Ours: packed inputs {frames}." if frames else "")
        + (f" Configuration: {configuration}." if configuration else "")
        + f" Δ: ours − paper's; –: not reported or not computed. Header “{ours_header('sid')}”"
        ": counted from the networks, on no dataset.",
    )


def _kernel_note(costs: Sequence[Mapping[str, Any]]) -> str:
    """Table 3 model 2's added convolutions, as counted."""
    kernels = sorted(
        {
            row["arch_args"]["extra_bottleneck_kernel"]
            for row in costs
            if "extra_bottleneck_kernel" in row.get("arch_args", {})
        }
    )
    if not kernels:
        return ""
    sizes = " and ".join(f"{k} × {k}" for k in kernels)
    return (
        f"Model 2 (SID-Net + 2 convs): its two added bottleneck convolutions are {sizes} "
        "(train.extra_convs_kernel)."
    )

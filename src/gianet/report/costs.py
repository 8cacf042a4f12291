"""Table 4 as data: parameters and FLOPs of every declared variant at full frame size."""

from __future__ import annotations

import json
from pathlib import Path

from gianet import atomic
from gianet.models import FULL_FRAMES, cost_table
from gianet.variants import VARIANTS, arch_args


def variant_costs(cameras: list[str], extra_convs_kernel: int = 1) -> list[dict]:
    """Rows ``{"variant", "camera", "input_shape", "params", "flops", "params_ratio",
    "flops_ratio", "arch_args"}`` for every declared variant, relative to SID-Net, on each
    camera's full frame (Sony 4 x 1416 x 2120 as in the paper's Table 4; Fuji 9 x 1344 x 2010),
    each built as training builds it (:func:`gianet.variants.arch_args`: Table 3 model 2's
    added convolutions of ``extra_convs_kernel``)."""
    archs = {
        name: {"arch": v.arch, **arch_args(v, extra_convs_kernel)} for name, v in VARIANTS.items()
    }
    # Variants that differ only in loss or crops share an architecture: count each once.
    unique = {}
    for name, spec in archs.items():
        unique.setdefault(json.dumps(spec, sort_keys=True), name)
    frames = {camera: FULL_FRAMES[camera] for camera in cameras}
    rows = cost_table({name: archs[name] for name in unique.values()}, frames, "sid_net")
    by_spec = {(row["camera"], row["model"]): row for row in rows}
    table = []
    for camera in cameras:
        for name, spec in archs.items():
            row = by_spec[(camera, unique[json.dumps(spec, sort_keys=True)])]
            table.append(
                {
                    **{k: row[k] for k in row if k not in ("model", "arch")},
                    "variant": name,
                    "camera": camera,
                    "arch_args": {k: v for k, v in spec.items() if k != "arch"},
                }
            )
    return table


def write_costs(cameras: list[str], out: Path, extra_convs_kernel: int = 1) -> list[dict]:
    """Write :func:`variant_costs` for ``cameras`` as JSON to ``out``."""
    rows = variant_costs(cameras, extra_convs_kernel)
    atomic.write_json(out, rows)
    return rows

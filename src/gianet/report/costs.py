"""Table 4 as data: parameters and FLOPs of every declared variant at full frame size."""

from __future__ import annotations

import json
from pathlib import Path

from gianet import atomic
from gianet.models import FULL_FRAMES, cost_table
from gianet.variants import VARIANTS


def variant_costs(cameras: list[str]) -> list[dict]:
    """Rows ``{"variant", "camera", "input_shape", "params", "flops", "params_ratio",
    "flops_ratio"}`` for every declared variant, relative to SID-Net, on each camera's full
    frame (Sony 4 x 1416 x 2120 as in the paper's Table 4; Fuji 9 x 1344 x 2010)."""
    archs = {name: {"arch": v.arch, **v.arch_args} for name, v in VARIANTS.items()}
    # Variants that differ only in loss or crops share an architecture: count each once.
    unique = {}
    for name, spec in archs.items():
        unique.setdefault(json.dumps(spec, sort_keys=True), name)
    frames = {camera: FULL_FRAMES[camera.lower()] for camera in cameras}
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
                }
            )
    return table


def write_costs(cameras: list[str], out: Path) -> list[dict]:
    """Write :func:`variant_costs` for ``cameras`` as JSON to ``out``."""
    rows = variant_costs(cameras)
    atomic.write_json(out, rows)
    return rows

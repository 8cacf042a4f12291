"""The comparisons each of the paper's tables makes, measured image by image.

- Table 1: GIA-Net against each baseline the paper retrained (quoted models have no images).
- Table 2: GIA-l1 (the GIA module alone) against SID-Net, SID-dilated and SW-Net.
- Table 3: each GIA model against its SID-Net counterpart (section 4.3): 6 against 1 (the
  module) and 2 (the same depth added as plain convolutions), 7 against 3, 8 against 4,
  9 against 5.

Each comparison is measured per camera and metric by :func:`gianet.report.stats.paired_difference`
on the test images both variants were evaluated on (every seed of each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gianet.domain.metrics import METRICS
from gianet.report import paper
from gianet.report.model import Comparison
from gianet.report.runs import Evaluations, metric_status, per_image_values
from gianet.report.stats import paired_difference

#: Table 3's pairs, by the paper's model numbers: (GIA model, its SID-Net counterpart).
TABLE3_PAIRS = (("6", "1"), ("6", "2"), ("7", "3"), ("8", "4"), ("9", "5"))
#: Tables 1 and 2: the paper's proposed model, compared with every other model of the table.
PROPOSED = {1: "GIA-Net", 2: "GIA-l1"}


@dataclass(frozen=True)
class Bootstrap:
    """How the intervals are drawn (``report.bootstrap_*`` settings).

    Attributes:
        resamples: bootstrap resamples, >= 100.
        seed: seed of the resampling's generator, >= 0.
        confidence: the interval's coverage, in (0.5, 1).
    """

    resamples: int
    seed: int
    confidence: float


def pairs(table: int) -> list[tuple[str, str, str]]:
    """``(label, model A, model B)`` of the comparisons a results table makes, A the GIA
    model; models the paper only quotes are left out."""
    if table == 3:
        return [(f"({a}) vs ({b})", a, b) for a, b in TABLE3_PAIRS]
    proposed = PROPOSED[table]
    return [
        (f"{proposed} vs {model}", proposed, model)
        for model in paper.models(table)
        if model != proposed and paper.variant_for(table, model) is not None
    ]


def compare(
    table: int,
    evaluations: Evaluations,
    cameras: Sequence[str],
    metrics: Sequence[str],
    *,
    first_shots: bool = False,
    bootstrap: Bootstrap,
) -> tuple[Comparison, ...]:
    """Every comparison of ``table`` on every camera and metric, cameras outermost.

    A comparison whose variants were not both run, or whose metric either side did not
    compute, has no result and says why in ``missing``. Images where either side has a
    non-finite value (an infinite PSNR) are left out of it.

    Args:
        evaluations: per (camera, variant) its evaluations, one per seed.
        metrics: the metric keys to compare, in order.
        first_shots: over each scene's ``_00`` shots only (SID's protocol).
    """
    comparisons = []
    for camera in cameras:
        for label, model_a, model_b in pairs(table):
            a = paper.variant_for(table, model_a).name
            b = paper.variant_for(table, model_b).name
            for metric in metrics:
                comparisons.append(
                    _compare(camera, label, a, b, metric, evaluations, first_shots, bootstrap)
                )
    return tuple(comparisons)


def _compare(
    camera: str,
    label: str,
    a: str,
    b: str,
    metric: str,
    evaluations: Evaluations,
    first_shots: bool,
    bootstrap: Bootstrap,
) -> Comparison:
    comparison = Comparison(camera, label, a, b, metric)
    sides = [evaluations.get((camera, variant), ()) for variant in (a, b)]
    if not all(sides):
        absent = [variant for variant, side in zip((a, b), sides, strict=True) if not side]
        return _missing(comparison, f"{', '.join(absent)} not run")
    for variant, side in zip((a, b), sides, strict=True):
        status = next(filter(None, (metric_status(e, metric) for e in side)), None)
        if status:
            return _missing(comparison, f"{metric} {status} for {variant}")
    (files_a, values_a), (files_b, values_b) = (
        per_image_values(side, metric, first_shots) for side in sides
    )
    common = [f for f in files_a if f in set(files_b)]
    if len(common) != len(files_a) or len(common) != len(files_b):
        return _missing(comparison, f"{a} and {b} were evaluated on different test images")
    order = {f: i for i, f in enumerate(files_b)}
    values_b = values_b[:, [order[f] for f in files_a]]
    finite = np.isfinite(values_a).all(axis=0) & np.isfinite(values_b).all(axis=0)
    if not finite.any():
        return _missing(comparison, "no image with finite values on both sides")
    result = paired_difference(
        values_a[:, finite],
        values_b[:, finite],
        higher_is_better=METRICS[metric].higher_is_better,
        resamples=bootstrap.resamples,
        confidence=bootstrap.confidence,
        seed=bootstrap.seed,
    )
    return Comparison(camera, label, a, b, metric, result)


def _missing(comparison: Comparison, why: str) -> Comparison:
    return Comparison(
        comparison.camera,
        comparison.label,
        comparison.a,
        comparison.b,
        comparison.metric,
        None,
        why,
    )

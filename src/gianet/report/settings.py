"""The report's settings (params.yaml's ``report`` section), as one typed value.

Only the report reads them, so changing one reruns the report alone. Defaults are
params.yaml's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gianet.report.comparisons import Bootstrap
from gianet.report.crops import CropChoice

#: One image's crops: (top, left) of each crop's corner, fractions of the frame in [0, 1].
Corners = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class ReportSettings:
    """What the report shows and how.

    Attributes:
        figure_variants: the figure grids' variant columns, in order, between the input and
            ground truth (SID-Net, the ablations, GIA-Net: the paper's Fig. 5 and 6).
        first_shot_tables: also Tables 1 to 3 under SID's ``_00`` protocol.
        figure_images: the test images of the grids, by stem (``10003_00_0.1s``), each one the
            evaluations saved (``evaluate.samples``); empty: every image they saved.
        crops: where the zoomed crops are (:class:`gianet.report.crops.CropChoice`).
        bootstrap: how the statistics' intervals are drawn.
    """

    figure_variants: tuple[str, ...] = ("sid_net", "gia_net")
    first_shot_tables: bool = True
    figure_images: tuple[str, ...] = ()
    crops: CropChoice = field(default_factory=CropChoice)
    bootstrap: Bootstrap = field(default_factory=Bootstrap)

    @classmethod
    def from_params(cls, report: Mapping[str, Any]) -> ReportSettings:
        """From params.yaml's ``report`` section (validated); absent keys take the
        defaults."""
        defaults = cls()
        crops, bootstrap = defaults.crops, defaults.bootstrap
        return cls(
            figure_variants=tuple(report.get("figure_variants", defaults.figure_variants)),
            first_shot_tables=bool(report.get("first_shot_tables", defaults.first_shot_tables)),
            figure_images=tuple(report.get("figure_images", ())),
            crops=CropChoice(
                size=float(report.get("crop_size", crops.size)),
                per_image=int(report.get("crops_per_image", crops.per_image)),
                corners={
                    stem: tuple((float(top), float(left)) for top, left in corners)
                    for stem, corners in (report.get("figure_crops") or {}).items()
                },
            ),
            bootstrap=Bootstrap(
                resamples=int(report.get("bootstrap_resamples", bootstrap.resamples)),
                seed=int(report.get("bootstrap_seed", bootstrap.seed)),
                confidence=float(report.get("confidence", bootstrap.confidence)),
            ),
        )


#: params.yaml's report settings.
DEFAULT_SETTINGS = ReportSettings()

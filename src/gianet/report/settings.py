"""The report's settings (params.yaml's ``report`` section), as the report's own types.

Only the report reads them, so changing one reruns the report alone. Their values come from
params.yaml (:class:`gianet.settings.sections.Report`); nothing here has a default.
"""

from __future__ import annotations

from dataclasses import dataclass

from gianet.report.comparisons import Bootstrap
from gianet.report.crops import CropChoice
from gianet.settings.sections import Report

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

    figure_variants: tuple[str, ...]
    first_shot_tables: bool
    figure_images: tuple[str, ...]
    crops: CropChoice
    bootstrap: Bootstrap

    @classmethod
    def of(cls, report: Report) -> ReportSettings:
        """From params.yaml's validated ``report`` section."""
        return cls(
            figure_variants=tuple(report.figure_variants),
            first_shot_tables=report.first_shot_tables,
            figure_images=tuple(report.figure_images),
            crops=CropChoice(
                size=report.crop_size,
                per_image=report.crops_per_image,
                corners={
                    stem: tuple((top, left) for top, left in corners)
                    for stem, corners in report.figure_crops.items()
                },
            ),
            bootstrap=Bootstrap(
                resamples=report.bootstrap_resamples,
                seed=report.bootstrap_seed,
                confidence=report.confidence,
            ),
        )

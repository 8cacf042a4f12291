"""Whether a training has reached its plateau, judged on its validation curve.

A run has plateaued when the mean validation PSNR over the last fifth of its epochs is less
than 0.2 dB above the mean over the fifth before (:data:`FRACTION`, :data:`TOLERANCE_DB`).
Means over windows rather than two single points, because one validation on a handful of
frames moves by tenths of a dB from one epoch to the next. The demo's schedule is chosen by
this criterion alone (benchmarks/README.md, "The demo's schedule"), and the report states,
for every run, the gain it measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The windows compared: the last fifth of the epochs, and the fifth before it.
FRACTION = 0.2
#: The largest gain (dB) of validation PSNR between the two windows of a plateaued run.
TOLERANCE_DB = 0.2


@dataclass(frozen=True)
class Plateau:
    """The last window's mean validation PSNR minus the one before's (``gain_db``), over
    ``points`` validations each, and whether that gain is under the tolerance."""

    gain_db: float
    points: int

    @property
    def reached(self) -> bool:
        return self.gain_db < TOLERANCE_DB


def plateau(epochs: np.ndarray, psnr: np.ndarray, total_epochs: int) -> Plateau | None:
    """Judge one run's validation curve.

    Args:
        epochs: (N,) the epochs (0-based, as the curves record them) of its validations.
        psnr: (N,) validation PSNR in dB at those epochs.
        total_epochs: the run's number of epochs (its recipe's).

    Returns:
        The gain between the two windows, or ``None`` when either window holds no
        validation (a run validated too rarely to be judged).
    """
    epochs, psnr = np.asarray(epochs, dtype=float), np.asarray(psnr, dtype=float)
    span = FRACTION * total_epochs
    last = epochs >= total_epochs - span
    before = (epochs >= total_epochs - 2 * span) & ~last
    if not last.any() or not before.any():
        return None
    return Plateau(gain_db=float(psnr[last].mean() - psnr[before].mean()), points=int(last.sum()))

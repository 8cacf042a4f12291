"""Is a difference between two variants real? Paired per-image statistics.

Two variants evaluated on the same test images give, per image, a value of each (a metric,
PSNR say); with several training seeds, one value per seed and image. The question every row
of the paper's Table 3 asks is whether A's mean is above B's by more than chance, where
chance is which test images were drawn and, with several seeds, which seeds. Answered here
by the mean paired difference with a percentile bootstrap confidence interval (Efron and
Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13), resampling test images and,
when a variant has several seeds, its seeds (a two-level bootstrap), and by the count of
images on which each side is better.

numpy only: no torch, no pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedDifference:
    """A − B over paired test images.

    Attributes:
        n_images: test images paired (each with a finite value on both sides).
        seeds_a, seeds_b: training seeds averaged on each side.
        mean: mean over images of (A's mean over seeds − B's mean over seeds), in the metric's
            unit.
        low, high: the percentile bootstrap interval of ``mean`` at ``confidence``.
        confidence: the interval's coverage, in (0, 1).
        resamples: bootstrap resamples drawn.
        seed: seed of the resampling's generator (``numpy.random.default_rng``).
        wins_a, wins_b, ties: images on which A is better, B is better, both equal (by the
            seed means and the metric's direction); they sum to ``n_images``.
    """

    n_images: int
    seeds_a: int
    seeds_b: int
    mean: float
    low: float
    high: float
    confidence: float
    resamples: int
    seed: int
    wins_a: int
    wins_b: int
    ties: int

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of no difference."""
        return self.low > 0 or self.high < 0


def paired_difference(
    a: np.ndarray,
    b: np.ndarray,
    *,
    higher_is_better: bool,
    resamples: int,
    confidence: float,
    seed: int,
) -> PairedDifference:
    """The mean of A − B over paired images, its bootstrap interval and the wins.

    Args:
        a: (seeds_a, n) values of A, one row per training seed, one column per test image.
        b: (seeds_b, n) values of B on the same images in the same order.
        higher_is_better: the metric's direction (PSNR, SSIM: True; LPIPS, PieAPP: False);
            it decides the wins, never the sign of the difference.
        resamples: bootstrap resamples R, >= 1.
        confidence: coverage of the interval, in (0, 1).
        seed: seed of ``numpy.random.default_rng``.

    The resampling, exactly (so that it can be recomputed): one generator
    ``default_rng(seed)`` draws ``images = integers(0, n, size=(R, n))``, then, only when
    seeds_a > 1, ``seeds_of_a = integers(0, seeds_a, size=(R, seeds_a))``, then likewise for
    B. Resample r averages A over its drawn seeds and B over its, per image, and takes the mean
    of their difference over its drawn images. The interval is ``numpy.quantile`` (linear) of
    the R means at (1 − confidence) / 2 and (1 + confidence) / 2. With one seed a side this is
    the ordinary paired bootstrap of the mean difference.

    Raises:
        ValueError: shapes that do not pair, no image, a non-finite value, or settings out of
            range.
    """
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"values of A {a.shape} and B {b.shape} do not pair image by image")
    n = a.shape[1]
    if n == 0 or a.shape[0] == 0 or b.shape[0] == 0:
        raise ValueError("no paired values: at least one seed and one image on each side")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("non-finite values: leave out the images where either side has one")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"resamples {resamples} must be >= 1, confidence {confidence} in (0, 1)")
    rng = np.random.default_rng(seed)
    images = rng.integers(0, n, size=(resamples, n))
    sides = []
    for values in (a, b):
        k = values.shape[0]
        # Per resample and seed, the mean over the resampled images: (R, k).
        per_seed = np.stack([row[images].mean(axis=1) for row in values], axis=1)
        if k > 1:
            drawn = rng.integers(0, k, size=(resamples, k))
            sides.append(np.take_along_axis(per_seed, drawn, axis=1).mean(axis=1))
        else:
            sides.append(per_seed[:, 0])
    means = sides[0] - sides[1]
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    seed_mean_a, seed_mean_b = a.mean(axis=0), b.mean(axis=0)
    a_better = seed_mean_a > seed_mean_b if higher_is_better else seed_mean_a < seed_mean_b
    ties = int((seed_mean_a == seed_mean_b).sum())
    return PairedDifference(
        n_images=n,
        seeds_a=a.shape[0],
        seeds_b=b.shape[0],
        mean=float((seed_mean_a - seed_mean_b).mean()),
        low=float(low),
        high=float(high),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        wins_a=int(a_better.sum()),
        wins_b=n - int(a_better.sum()) - ties,
        ties=ties,
    )

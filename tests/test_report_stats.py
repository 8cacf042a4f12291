"""Paired per-image statistics against direct computations on fixed examples."""

from __future__ import annotations

import numpy as np
import pytest

from gianet.report.stats import paired_difference

# Four test images; A is better on images 0, 2, 3 and worse on image 1.
A = np.array([30.0, 31.0, 29.0, 32.0])
B = np.array([29.0, 31.5, 28.0, 30.0])


def paired(a, b, **options):
    """paired_difference with the 95 % interval and seed 0 unless ``options`` say otherwise."""
    defaults = {"higher_is_better": True, "resamples": 1000, "confidence": 0.95, "seed": 0}
    return paired_difference(a, b, **(defaults | options))


def direct_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int, seed: int, confidence: float):
    """The docstring's procedure, one resample at a time: image draws first, then A's seed
    draws, then B's (each only with more than one seed)."""
    rng = np.random.default_rng(seed)
    n = a.shape[1]
    images = [rng.integers(0, n, size=n) for _ in range(resamples)]
    drawn = {}
    for side, values in (("a", a), ("b", b)):
        k = values.shape[0]
        drawn[side] = (
            [rng.integers(0, k, size=k) for _ in range(resamples)]
            if k > 1
            else [np.zeros(1, int)] * resamples
        )
    means = []
    for r in range(resamples):
        total = 0.0
        for i in images[r]:
            mean_a = sum(a[s, i] for s in drawn["a"][r]) / len(drawn["a"][r])
            mean_b = sum(b[s, i] for s in drawn["b"][r]) / len(drawn["b"][r])
            total += mean_a - mean_b
        means.append(total / n)
    tail = (1 - confidence) / 2
    return np.quantile(means, [tail, 1 - tail])


def test_one_seed_each_matches_the_paired_bootstrap_and_wins_counted_by_hand():
    result = paired(A[None], B[None], resamples=500, seed=7)
    # Differences 1, -0.5, 1, 2: mean 0.875; A wins images 0, 2, 3, B wins image 1.
    assert result.mean == pytest.approx(0.875)
    assert (result.wins_a, result.wins_b, result.ties) == (3, 1, 0)
    assert (result.n_images, result.seeds_a, result.seeds_b) == (4, 1, 1)
    low, high = direct_bootstrap(A[None], B[None], 500, 7, 0.95)
    assert (result.low, result.high) == pytest.approx((low, high), abs=1e-12)
    assert -0.5 <= result.low < 0.875 < result.high <= 2.0  # within the differences' range
    # The same seed gives the same interval; another seed another one.
    assert paired(A[None], B[None], resamples=500, seed=7) == result
    other = paired(A[None], B[None], resamples=500, seed=8)
    assert (other.low, other.high) != (result.low, result.high)


def test_a_lower_is_better_metric_counts_wins_the_other_way_and_keeps_the_sign():
    result = paired(A[None], B[None], higher_is_better=False, resamples=50)
    assert result.mean == pytest.approx(0.875)
    assert (result.wins_a, result.wins_b) == (1, 3)


def test_ties_are_counted_apart():
    result = paired([[1.0, 2.0, 3.0]], [[1.0, 1.0, 4.0]], resamples=20)
    assert (result.wins_a, result.wins_b, result.ties) == (1, 1, 1)


def test_several_seeds_resample_seeds_too_and_average_them_per_image():
    a = np.array([[30.0, 31.0, 29.0, 32.0], [30.4, 30.2, 29.6, 31.0], [29.8, 31.4, 28.7, 32.2]])
    b = np.array([[29.0, 31.5, 28.0, 30.0], [29.6, 31.1, 28.4, 30.5]])
    result = paired(a, b, resamples=300, seed=3, confidence=0.9)
    seed_means = a.mean(axis=0) - b.mean(axis=0)
    assert result.mean == pytest.approx(seed_means.mean())
    # Per image, by the seed means: A 30.067 30.867 29.1 31.733 vs B 29.3 31.3 28.2 30.25.
    assert (result.wins_a, result.wins_b) == (3, 1)
    assert (result.seeds_a, result.seeds_b) == (3, 2)
    low, high = direct_bootstrap(a, b, 300, 3, 0.9)
    assert (result.low, result.high) == pytest.approx((low, high), abs=1e-12)
    # Resampling seeds as well widens nothing away: the interval holds the mean.
    assert result.low < result.mean < result.high


def test_a_constant_difference_has_a_zero_width_interval_that_excludes_zero():
    result = paired([[2.0, 3.0, 4.0]], [[1.5, 2.5, 3.5]], resamples=100)
    assert result.low == pytest.approx(0.5) and result.high == pytest.approx(0.5)
    assert result.excludes_zero


@pytest.mark.parametrize(
    "a, b, options, message",
    [
        ([[1.0, 2.0]], [[1.0, 2.0, 3.0]], {}, "do not pair"),
        ([[1.0, np.inf]], [[1.0, 2.0]], {}, "non-finite"),
        (np.zeros((1, 0)), np.zeros((1, 0)), {}, "no paired values"),
        ([[1.0]], [[2.0]], {"resamples": 0}, "resamples"),
        ([[1.0]], [[2.0]], {"confidence": 1.0}, "confidence"),
    ],
)
def test_bad_input_is_refused(a, b, options, message):
    with pytest.raises(ValueError, match=message):
        paired(np.asarray(a), np.asarray(b), **options)

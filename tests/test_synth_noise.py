"""The ELD Sony A7S2 noise model: parameter distribution and pixel statistics."""

import numpy as np
import pytest

from gianet.synth.noise import (
    GAIN_MAX,
    GAIN_MIN,
    NoiseParams,
    iso_from_gain,
    sample_noise_params,
    simulate_short_exposure,
)


@pytest.fixture(scope="module")
def draws() -> list[NoiseParams]:
    rng = np.random.default_rng(0)
    return [sample_noise_params(rng) for _ in range(4000)]


def test_gain_is_log_uniform_over_the_calibrated_range(draws):
    log_gain = np.log([d.system_gain for d in draws])
    assert log_gain.min() >= np.log(GAIN_MIN) and log_gain.max() <= np.log(GAIN_MAX)
    # Log-uniform: each quarter of the log range holds a quarter of the draws.
    counts, _ = np.histogram(log_gain, bins=4, range=(np.log(GAIN_MIN), np.log(GAIN_MAX)))
    np.testing.assert_allclose(counts / len(draws), 0.25, atol=0.03)


@pytest.mark.parametrize(
    ("attribute", "slope", "bias", "jitter"),
    [("read_sigma", 0.5407, 1.2182, 0.2675), ("row_sigma", 0.5275, -0.5917, 0.2943)],
)
def test_sigmas_follow_the_eld_log_linear_fits(draws, attribute, slope, bias, jitter):
    log_gain = np.log([d.system_gain for d in draws])
    log_sigma = np.log([getattr(d, attribute) for d in draws])
    fitted_slope, fitted_bias = np.polyfit(log_gain, log_sigma, 1)
    residual = log_sigma - (fitted_slope * log_gain + fitted_bias)
    assert fitted_slope == pytest.approx(slope, abs=0.03)
    assert fitted_bias == pytest.approx(bias, abs=0.03)
    assert residual.std() == pytest.approx(jitter, rel=0.05)


@pytest.mark.parametrize(("level", "gain"), [(2000.0, 0.5), (30000.0, 2.0), (300.0, 4.0)])
def test_variance_is_gain_times_mean_plus_read_variance(level, gain):
    params = NoiseParams(system_gain=gain, read_sigma=3.0, row_sigma=0.0)
    ratio = 100
    clean = np.full((256, 256), level)
    short = simulate_short_exposure(clean, ratio, params, np.random.default_rng(1))
    signal = short.astype(np.float64) - 512
    expected_mean = level / ratio
    # Shot noise K * mean, read noise sigma^2, rounding to integers 1/12.
    expected_variance = gain * expected_mean + 3.0**2 + 1 / 12
    assert signal.mean() == pytest.approx(expected_mean, abs=0.05 * np.sqrt(expected_variance))
    assert signal.var() == pytest.approx(expected_variance, rel=0.04)


def test_row_noise_is_one_offset_per_row():
    params = NoiseParams(system_gain=1.0, read_sigma=2.0, row_sigma=5.0)
    short = simulate_short_exposure(
        np.full((4096, 64), 1000.0), 100, params, np.random.default_rng(2)
    ).astype(np.float64)
    row_means = short.mean(axis=1)
    pixel_variance = short.var(axis=1).mean()
    row_variance = row_means.var() - pixel_variance / short.shape[1]
    assert row_variance == pytest.approx(5.0**2, rel=0.1)
    # Columns share nothing: column means vary only by pixel noise / rows.
    assert short.mean(axis=0).var() < 5 * (pixel_variance + 25) / short.shape[0]


def test_output_is_14_bit_raw_with_black_level():
    params = NoiseParams(system_gain=2.0, read_sigma=4.0, row_sigma=1.0)
    clean = np.zeros((64, 64))
    clean[:, 32:] = 1e9  # far above white
    short = simulate_short_exposure(clean, 300, params, np.random.default_rng(3))
    assert short.dtype == np.uint16
    assert np.all(short[:, 32:] == 16383)
    assert short[:, :32].mean() == pytest.approx(512, abs=1.0)
    assert short[:, :32].min() < 512  # read noise goes below black, as in real raws


def test_same_generator_state_gives_the_same_frame():
    params = NoiseParams(system_gain=1.0, read_sigma=3.0, row_sigma=1.0)
    clean = np.random.default_rng(4).uniform(0, 5000, (32, 48))
    first = simulate_short_exposure(clean, 250, params, np.random.default_rng(5))
    again = simulate_short_exposure(clean, 250, params, np.random.default_rng(5))
    other = simulate_short_exposure(clean, 250, params, np.random.default_rng(6))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_non_positive_ratio_is_rejected():
    params = NoiseParams(system_gain=1.0, read_sigma=3.0, row_sigma=1.0)
    with pytest.raises(ValueError, match="ratio"):
        simulate_short_exposure(np.zeros((2, 2)), 0, params, np.random.default_rng(0))


def test_iso_is_proportional_to_gain_from_iso_100_to_6400():
    assert iso_from_gain(GAIN_MIN) == 100
    assert iso_from_gain(GAIN_MAX) == pytest.approx(6400, rel=0.001)
    assert iso_from_gain(2 * GAIN_MIN) == 200
    assert NoiseParams(system_gain=8 * GAIN_MIN, read_sigma=1, row_sigma=1).iso == 800

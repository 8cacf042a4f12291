"""Short-exposure noise: the Sony A7S2 model calibrated by ELD (Wei et al., CVPR 2020).

Model (docs/reference.md, sid-synth), all natural logarithms, noise in raw DN:

- system gain K log-uniform in [0.0939, 6.0106] DN/e-;
- shot noise: electrons ~ Poisson(signal / K), back to DN times K;
- read noise: Gaussian, log(sigma) = 0.5407 log K + 1.2182 + N(0, 0.2675);
- row noise: one Gaussian offset per sensor row,
  log(sigma_row) = 0.5275 log K - 0.5917 + N(0, 0.2943);
- quantise to integer DN (14 bits), add the black level, clip to [0, white].

The same model serves the Fuji-like camera: ELD published no X-T2 calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAIN_MIN = 0.0939  # DN per electron
GAIN_MAX = 6.0106
READ_LOG_SLOPE, READ_LOG_BIAS, READ_LOG_JITTER = 0.5407, 1.2182, 0.2675
ROW_LOG_SLOPE, ROW_LOG_BIAS, ROW_LOG_JITTER = 0.5275, -0.5917, 0.2943

# ISO is taken as proportional to the system gain (analogue gain scales both). Anchor: ELD's
# gain range spans a factor 6.0106 / 0.0939 = 64.0 = ISO 6400 / ISO 100, so K = 0.0939 is read
# as ISO 100 (base ISO; it implies a full well of about 170,000 e-, in line with the A7S2's
# large pixels) and K = 6.0106 as ISO 6400. This is an assumption: ELD publishes K, not ISO.
ISO_ANCHOR = 100
GAIN_AT_ISO_ANCHOR = GAIN_MIN


@dataclass(frozen=True)
class NoiseParams:
    """One draw of the noise model: gain K (DN/e-) and the read / row noise sigmas (DN)."""

    system_gain: float
    read_sigma: float
    row_sigma: float

    @property
    def iso(self) -> int:
        """The ISO this gain stands for (see :func:`iso_from_gain`)."""
        return iso_from_gain(self.system_gain)


def iso_from_gain(system_gain: float) -> int:
    """ISO proportional to the gain K (DN/e-), anchored at K = 0.0939 <-> ISO 100."""
    return int(round(ISO_ANCHOR * system_gain / GAIN_AT_ISO_ANCHOR))


def sample_noise_params(rng: np.random.Generator) -> NoiseParams:
    """Draw K log-uniformly, then the read and row sigmas from ELD's log-linear fits."""
    log_gain = rng.uniform(np.log(GAIN_MIN), np.log(GAIN_MAX))
    log_read = READ_LOG_SLOPE * log_gain + READ_LOG_BIAS + rng.normal(0.0, READ_LOG_JITTER)
    log_row = ROW_LOG_SLOPE * log_gain + ROW_LOG_BIAS + rng.normal(0.0, ROW_LOG_JITTER)
    return NoiseParams(
        system_gain=float(np.exp(log_gain)),
        read_sigma=float(np.exp(log_read)),
        row_sigma=float(np.exp(log_row)),
    )


def simulate_short_exposure(
    clean_dn_above_black: np.ndarray,
    ratio: float,
    params: NoiseParams,
    rng: np.random.Generator,
    black: int = 512,
    white: int = 16383,
) -> np.ndarray:
    """A noisy short exposure of a clean long exposure ``ratio`` times longer.

    Args:
        clean_dn_above_black: (H, W) float clean mosaic of the long exposure in DN above the
            black level, not clipped at white (negative values count as 0).
        ratio: exposure ratio long / short (SID: 100, 250 or 300), > 0.
        params: gain and sigmas, from :func:`sample_noise_params`.
        rng: the only source of randomness.
        black, white: raw levels of the written file.

    Returns:
        (H, W) uint16 raw DN in [0, white], black level included.
    """
    if ratio <= 0:
        raise ValueError(f"ratio={ratio} must be positive (long / short exposure time)")
    signal = np.maximum(clean_dn_above_black, 0.0) / ratio
    electrons = rng.poisson(signal / params.system_gain)
    noisy = electrons * params.system_gain
    noisy += rng.normal(0.0, params.read_sigma, size=signal.shape)
    noisy += rng.normal(0.0, params.row_sigma, size=(signal.shape[0], 1))
    return np.clip(np.round(noisy) + black, 0, white).astype(np.uint16)

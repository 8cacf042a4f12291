"""The metrics: one registry of what each one is, computes with and prints as.

The functions themselves live in :mod:`gianet.evaluation` (they need torch); each entry names
its implementation by import path, loaded only when an evaluation builds it. Adding a metric
is a row here plus its implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

#: SSIM's Gaussian window (Wang et al. 2004, and scikit-image with ``gaussian_weights=True``):
#: 11 taps of standard deviation 1.5, and its stabilising constants K1, K2.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
#: MS-SSIM's scales (piq's ``multi_scale_ssim`` and the paper's Eq. 3-5: five), and the
#: smallest image side it takes: the window must fit the coarsest scale, each scale half the
#: one before (piq's rule).
MS_SSIM_SCALES = 5
MS_SSIM_MIN_SIDE = (SSIM_WINDOW - 1) * 2 ** (MS_SSIM_SCALES - 1) + 1  # 161


@dataclass(frozen=True)
class MetricSpec:
    """One image-quality metric.

    Attributes:
        name: the key in params.yaml (``evaluate.metrics``), CSVs and summaries.
        header: how tables print it.
        higher_is_better: its direction (PSNR, SSIM up; PieAPP, LPIPS down).
        decimals: digits tables print (the paper's).
        needs_weights: whether it needs pretrained weights (fetched by ``fetch_weights``);
            without them it is reported as unavailable.
        implementation: ``module:name`` of a callable ``(torch_home, device, settings) ->
            f(pred, target)`` on (1, 3, H, W) tensors in [0, 1], returning a 0-d tensor.
    """

    name: str
    header: str
    higher_is_better: bool
    decimals: int
    needs_weights: bool
    implementation: str

    @property
    def arrow(self) -> str:
        return "up" if self.higher_is_better else "down"


#: In the paper's column order (Tables 1 to 3: PSNR, SSIM, PieAPP, LPIPS).
METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("psnr", "PSNR", True, 2, False, "gianet.evaluation.metrics:build_psnr"),
        MetricSpec("ssim", "SSIM", True, 3, False, "gianet.evaluation.metrics:build_ssim"),
        MetricSpec("pieapp", "PieAPP", False, 3, True, "gianet.evaluation.perceptual:build_pieapp"),
        MetricSpec("lpips", "LPIPS", False, 3, True, "gianet.evaluation.perceptual:build_lpips"),
    )
}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)

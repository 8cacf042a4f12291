"""The one declaration of run variants.

A variant is an architecture from the model registry plus its constructor arguments, a loss
and a crop policy. Snakemake, the report and the tests all read :data:`VARIANTS`; adding a
variant is one entry here, never a new rule.

The nine Table 3 models are read from the paper's text (section 4.5, "Model Analysis"):
1 SID-Net with L1; 2 SID-Net with two extra bottleneck convolutions; 3 +MS-SSIM; 4
+multi-size crops; 5 both; 6-9 the same four with the GIA module (6 is Table 2's "GIA-l1",
9 is GIA-Net of Table 1). The Table 1 baselines (SE-UNet, DnCNN, RIDNet) declare SID-Net's
L1 and fixed crops; ``train.baseline_recipe: gia-net`` trains them as GIA-Net instead
(:func:`training_of`; docs/readings.md, The baselines' training recipe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gianet.errors import GianetError

Loss = Literal["l1", "l1+ms-ssim"]
Crops = Literal["fixed", "multi-size"]


@dataclass(frozen=True)
class PaperRow:
    """Where a variant appears in the paper's tables (``paper_results.csv``: table, model)."""

    table: int
    model: str


@dataclass(frozen=True)
class Variant:
    """One trainable configuration.

    Attributes:
        name: identifier used in file paths and on the command line.
        label: how tables and figures name it.
        arch: architecture name in :mod:`gianet.models.registry`.
        arch_args: constructor arguments besides ``in_channels`` and ``upscale``,
            which come from the camera.
        loss: ``"l1"`` or ``"l1+ms-ssim"`` (``gamma * L1 + (1 - gamma) * (1 - MS-SSIM)``).
        crops: ``"fixed"`` square patches of ``train.patch`` packed pixels, or
            ``"multi-size"`` crops of side ``a * b`` with ``b`` uniform in ``train.multi_size_b``.
        paper: rows of the paper's tables that report this variant.
        baseline: a Table 1 baseline whose recipe the paper does not give, so
            ``train.baseline_recipe`` chooses its loss and crops (:func:`training_of`).
    """

    name: str
    label: str
    arch: str
    arch_args: dict = field(default_factory=dict)
    loss: Loss = "l1"
    crops: Crops = "fixed"
    paper: tuple[PaperRow, ...] = ()
    baseline: bool = False


def _declare(*variants: Variant) -> dict[str, Variant]:
    names = [v.name for v in variants]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"variant names declared twice: {sorted(duplicates)}")
    return {v.name: v for v in variants}


_GIA = {"gia": True}
_EXTRA = {"extra_bottleneck_convs": 2}

VARIANTS: dict[str, Variant] = _declare(
    # Table 3, SID-Net based models 1-5.
    Variant(
        "sid_net",
        "SID-Net",
        "unet",
        paper=(PaperRow(1, "SID-Net"), PaperRow(2, "SID-Net"), PaperRow(3, "1")),
    ),
    Variant("sid_net_deeper", "SID-Net + 2 convs", "unet", _EXTRA, paper=(PaperRow(3, "2"),)),
    Variant(
        "sid_net_msssim", "SID-Net + MS-SSIM", "unet", loss="l1+ms-ssim", paper=(PaperRow(3, "3"),)
    ),
    Variant(
        "sid_net_crops", "SID-Net + crops", "unet", crops="multi-size", paper=(PaperRow(3, "4"),)
    ),
    Variant(
        "sid_net_msssim_crops",
        "SID-Net + MS-SSIM + crops",
        "unet",
        loss="l1+ms-ssim",
        crops="multi-size",
        paper=(PaperRow(3, "5"),),
    ),
    # Table 3, GIA based models 6-9.
    Variant("gia_l1", "GIA-l1", "unet", _GIA, paper=(PaperRow(2, "GIA-l1"), PaperRow(3, "6"))),
    Variant(
        "gia_msssim", "GIA + MS-SSIM", "unet", _GIA, loss="l1+ms-ssim", paper=(PaperRow(3, "7"),)
    ),
    Variant(
        "gia_crops", "GIA + crops", "unet", _GIA, crops="multi-size", paper=(PaperRow(3, "8"),)
    ),
    Variant(
        "gia_net",
        "GIA-Net",
        "unet",
        _GIA,
        loss="l1+ms-ssim",
        crops="multi-size",
        paper=(PaperRow(1, "GIA-Net"), PaperRow(3, "9")),
    ),
    # Table 2 and Table 1 baselines.
    Variant(
        "sid_dilated", "SID-dilated", "unet", {"dilation": 2}, paper=(PaperRow(2, "SID-dilated"),)
    ),
    Variant("sw_net", "SW-Net", "unet", {"sw_blocks": True}, paper=(PaperRow(2, "SW-Net"),)),
    Variant(
        "se_unet",
        "SE-UNet",
        "unet",
        {"se_bottleneck": True},
        paper=(PaperRow(1, "SE-UNet"),),
        baseline=True,
    ),
    Variant("dncnn", "DnCNN", "dncnn", paper=(PaperRow(1, "DnCNN"),), baseline=True),
    Variant("ridnet", "RIDNet", "ridnet", paper=(PaperRow(1, "RID-Net"),), baseline=True),
)

#: ``train.baseline_recipe``'s readings: how the baselines train (docs/readings.md).
BASELINE_RECIPES: dict[str, tuple[Loss, Crops]] = {
    "sid": ("l1", "fixed"),  # as the retrained SID-Net (SID's code)
    "gia-net": ("l1+ms-ssim", "multi-size"),  # as GIA-Net (the paper, section 4.2)
}


def training_of(variant: Variant, baseline_recipe: str) -> tuple[Loss, Crops]:
    """The loss and crops ``variant`` trains with: its own, or for a Table 1 baseline those
    ``train.baseline_recipe`` names (:data:`BASELINE_RECIPES`)."""
    if variant.baseline:
        return BASELINE_RECIPES[baseline_recipe]
    return variant.loss, variant.crops


#: Models the paper quotes from other papers without retraining; the report prints their
#: numbers marked as quoted.
QUOTED_ONLY: tuple[str, ...] = ("SGN", "Zamir et al.")


#: Kernel sizes ``train.extra_convs_kernel`` allows for Table 3 model 2's added convolutions:
#: 3, SID's bottleneck convolutions; 1, the GIA module's layers.
EXTRA_CONVS_KERNELS = (1, 3)
#: The paper's width: SID-Net's base channels (SID's train_Sony.py: 32).
PAPER_WIDTH = 32
#: Each architecture's width argument and its value at the paper's width: SID-Net's base
#: channels (32), DnCNN's and RIDNet's feature channels (64, their papers'). ``train.width``
#: scales all of them in the same proportion (tests/test_variants.py checks each constructor).
ARCH_WIDTHS: dict[str, tuple[str, int]] = {
    "unet": ("base_channels", 32),
    "dncnn": ("channels", 64),
    "ridnet": ("channels", 64),
}


def arch_args(variant: Variant, extra_convs_kernel: int, width: int = PAPER_WIDTH) -> dict:
    """The constructor arguments ``variant`` is built with under the result settings: its
    declared ``arch_args``; where it adds bottleneck convolutions (Table 3 model 2), their
    kernel size ``train.extra_convs_kernel``; and, at a ``width`` other than the paper's,
    its architecture's width scaled by ``width / 32``. Checkpoints record these, so a trained
    network is rebuilt as it was trained."""
    arguments = dict(variant.arch_args)
    if arguments.get("extra_bottleneck_convs"):
        if extra_convs_kernel not in EXTRA_CONVS_KERNELS:
            raise ValueError(
                f"extra_convs_kernel must be one of {EXTRA_CONVS_KERNELS}, got {extra_convs_kernel}"
            )
        arguments["extra_bottleneck_kernel"] = extra_convs_kernel
    if width != PAPER_WIDTH:
        name, paper = ARCH_WIDTHS[variant.arch]
        arguments[name] = max(1, paper * width // PAPER_WIDTH)
    return arguments


class UnknownVariant(GianetError, KeyError):
    """A variant name that :data:`VARIANTS` does not declare."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_variant(name: str) -> Variant:
    """Return the declared variant ``name``; unknown names raise :class:`UnknownVariant`."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise UnknownVariant(
            f"unknown variant {name!r}; declared variants: {', '.join(VARIANTS)}"
        ) from None

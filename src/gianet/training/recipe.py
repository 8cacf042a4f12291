"""A training recipe: one variant's training, resolved from the ``train`` settings.

The recipe holds exactly what a variant's weights depend on: the architecture and its
arguments, the crop policy and the loss the variant declares (with their sizes and
weights), the schedule, the seed and the readings of SID's code (training shots, flips,
initialisation, precision). A setting the variant cannot use (MS-SSIM's exponents for an L1
variant, multi-size crops for a fixed-crop one) is not in it, so changing that setting
retrains nothing that does not use it. Checkpoints record the recipe; evaluation reports it.

Nothing here imports torch: the workflow builds recipes when it reads the configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gianet.data.crops import FixedCrops, MultiSizeCrops
from gianet.errors import GianetError
from gianet.settings.sections import Train
from gianet.variants import PAPER_WIDTH, Variant, arch_args, training_of


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class L1Loss(_Part):
    """Mean absolute error (SID's loss)."""

    kind: Literal["l1"]


class JointLoss(_Part):
    """The paper's Eq. 1: ``gamma`` on the term ``gamma_term`` of L1 and 1 - MS-SSIM, MS-SSIM
    with the per-scale ``exponents``."""

    kind: Literal["l1+ms-ssim"]
    gamma: Annotated[float, Field(ge=0, le=1)]
    gamma_term: Literal["l1", "ms-ssim"]
    exponents: Literal["paper", "wang"]


class Recipe(_Part):
    """One variant's training (see the module docstring)."""

    variant: str
    arch: str
    arch_args: dict[str, int | bool]
    width: Annotated[int, Field(ge=1)]
    crops: Annotated[FixedCrops | MultiSizeCrops, Field(discriminator="kind")]
    loss: Annotated[L1Loss | JointLoss, Field(discriminator="kind")]
    seed: Annotated[int, Field(ge=0)] | None  # None: not recorded (imported weights)
    epochs: Annotated[int, Field(ge=1)]
    lr: Annotated[float, Field(gt=0)]
    lr_decay_epoch: Annotated[int, Field(ge=0)]
    lr_decay_factor: Annotated[float, Field(gt=0, le=1)]
    batch_size: Annotated[int, Field(ge=1)]
    max_input: Annotated[float, Field(gt=0)]
    shots: Literal["first", "all"]
    flips: Literal["sid", "sid-before-fix"]
    init: Literal["sid", "pytorch"]
    precision: Literal["float32", "tf32", "bf16"]

    @classmethod
    def for_variant(cls, variant: Variant, train: Train, seed: int) -> Recipe:
        """The recipe of ``variant`` under the ``train`` settings, with ``seed`` (a baseline's
        loss and crops as ``train.baseline_recipe`` says: :func:`gianet.variants.training_of`)."""
        loss_kind, crop_kind = training_of(variant, train.baseline_recipe)
        if crop_kind == "fixed":
            crops: FixedCrops | MultiSizeCrops = FixedCrops(kind="fixed", patch=train.patch)
        else:
            crops = MultiSizeCrops(kind="multi-size", a=train.multi_size_a, b=train.multi_size_b)
        if loss_kind == "l1":
            loss: L1Loss | JointLoss = L1Loss(kind="l1")
        else:
            loss = JointLoss(
                kind="l1+ms-ssim",
                gamma=train.loss_gamma,
                gamma_term=train.loss_gamma_term,
                exponents=train.msssim_exponents,
            )
        return cls(
            variant=variant.name,
            arch=variant.arch,
            arch_args=arch_args(variant, train.extra_convs_kernel, train.width),
            width=train.width,
            crops=crops,
            loss=loss,
            seed=seed,
            epochs=train.epochs,
            lr=train.lr,
            lr_decay_epoch=train.lr_decay_epoch,
            lr_decay_factor=train.lr_decay_factor,
            batch_size=train.batch_size,
            max_input=train.max_input,
            shots=train.shots,
            flips=train.flips,
            init=train.init,
            precision=train.precision,
        )

    def learning_rate(self, epoch: int) -> float:
        """The paper's step schedule: ``lr``, then ``lr * lr_decay_factor`` from
        ``lr_decay_epoch`` on (0: never)."""
        decayed = self.lr_decay_epoch and epoch >= self.lr_decay_epoch
        return self.lr * (self.lr_decay_factor if decayed else 1.0)

    @property
    def paper_width(self) -> bool:
        return self.width == PAPER_WIDTH


def sid_released_recipe(width: int) -> Recipe:
    """How SID's released weights were trained, as far as SID's train_Sony.py and
    train_Fuji.py say (Chen et al., CVPR 2018): SID-Net of ``width`` base channels, L1 on
    fixed 512-pixel patches of the ``_00`` shots, Adam at 1e-4 for 2000 epochs then 1e-5 until
    4000, batch 1, the input clipped at 1, TF-slim's initialisation, IEEE float32. The weights
    were published with the paper (May 2018), before SID's code fixed its horizontal flip
    (2018-10-08), so the flips are read as ``sid-before-fix``; the seed was not recorded."""
    return Recipe(
        variant="sid_net",
        arch="unet",
        arch_args={"base_channels": width},
        width=width,
        crops=FixedCrops(kind="fixed", patch=512),
        loss=L1Loss(kind="l1"),
        seed=None,
        epochs=4000,
        lr=1e-4,
        lr_decay_epoch=2000,
        lr_decay_factor=0.1,
        batch_size=1,
        max_input=1.0,
        shots="first",
        flips="sid-before-fix",
        init="sid",
        precision="float32",
    )


class RecipeMissing(GianetError, ValueError):
    """A checkpoint records no training recipe (one not written by ``gianet train``)."""


def recipe_of(checkpoint: dict, path: str | Path) -> Recipe:
    """The recipe a checkpoint was trained with (``gianet train`` records it).

    Raises:
        RecipeMissing: the checkpoint has none, or an unreadable one; names the file.
    """
    text = checkpoint.get("recipe")
    if not isinstance(text, str):
        raise RecipeMissing(
            f"{path}: records no training recipe, so its input clip (train.max_input) and "
            "protocol are unknown; use a checkpoint written by `gianet train` or `gianet "
            "import-sid`"
        )
    try:
        return Recipe.model_validate_json(text)
    except ValueError as exc:
        raise RecipeMissing(
            f"{path}: its training recipe cannot be read ({str(exc).splitlines()[0]}); "
            "retrain it with this version of gianet"
        ) from None


def readings(recipe: Recipe) -> dict:
    """The training readings an evaluation reports under its tables (``protocol.training``):
    SID's code's and the paper's choices this recipe followed; ``None`` where the variant's
    loss or architecture has no such setting."""
    joint = recipe.loss.kind == "l1+ms-ssim"
    return {
        "shots": recipe.shots,
        "flips": recipe.flips,
        "init": recipe.init,
        "msssim_exponents": recipe.loss.exponents if joint else None,
        "loss_gamma": recipe.loss.gamma if joint else None,
        "loss_gamma_term": recipe.loss.gamma_term if joint else None,
        "extra_convs_kernel": recipe.arch_args.get("extra_bottleneck_kernel"),
        "precision": recipe.precision,
        "width": recipe.width,
    }

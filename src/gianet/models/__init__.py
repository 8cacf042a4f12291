"""Network architectures for packed-raw low-light imaging, built by name from one registry.

Importing this package registers every architecture (importing a class runs its
``@register``): ``unet`` (SID-Net and the GIA-Net paper's U-Net variants), ``dncnn`` and
``ridnet``. Build one with ``build_model("unet", in_channels=4, upscale=2, gia=True)``.
"""

from .cost import (
    FUJI_FULL_FRAME,
    FULL_FRAMES,
    SONY_FULL_FRAME,
    Frame,
    cost_table,
    count_flops,
    count_parameters,
)
from .dncnn import DnCNN
from .gia import GIAModule
from .init import INITS, initialise
from .registry import architecture_class, available_architectures, build_model, register
from .ridnet import RIDNet
from .unet import UNet

__all__ = [
    "FUJI_FULL_FRAME",
    "FULL_FRAMES",
    "SONY_FULL_FRAME",
    "DnCNN",
    "Frame",
    "GIAModule",
    "INITS",
    "RIDNet",
    "UNet",
    "architecture_class",
    "available_architectures",
    "build_model",
    "cost_table",
    "count_flops",
    "count_parameters",
    "initialise",
    "register",
]

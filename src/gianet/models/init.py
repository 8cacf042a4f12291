"""Weight initialisation: PyTorch's defaults, or SID's (TensorFlow-slim's).

SID's ``train_Sony.py`` builds its convolutions with ``slim.conv2d``, whose defaults are
Xavier-uniform (Glorot) weights and zero biases, and its transposed convolutions from
``tf.truncated_normal(..., stddev=0.02)``: a normal of standard deviation 0.02 with every draw
beyond two standard deviations drawn again. ``train.init: sid`` applies that rule to every
convolution and transposed convolution of a network (the GIA module's, SE blocks', DnCNN's and
RIDNet's included); other layers (DnCNN's batch normalisation) keep PyTorch's initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

#: The initialisations ``train.init`` names.
INITS = ("pytorch", "sid")
#: SID's transposed convolutions: ``tf.truncated_normal(stddev=0.02)``, cut at 2 std.
SID_TRANSPOSED_STD = 0.02


@torch.no_grad()
def initialise(model: nn.Module, scheme: str) -> nn.Module:
    """Initialise ``model``'s convolutions in place as ``scheme`` says, and return it.

    Args:
        model: any network; its random draws come from torch's global generator (seeded by
            training).
        scheme: ``"pytorch"`` leaves PyTorch's defaults; ``"sid"``: Xavier-uniform weights
            (bound ``sqrt(6 / (fan_in + fan_out))``, fans counting the kernel's positions)
            and zero biases for ``Conv2d``, a normal of std 0.02 truncated at +-0.04 for
            ``ConvTranspose2d`` (and zero biases, though SID's have none).

    Raises:
        ValueError: ``scheme`` is not one of :data:`INITS`.
    """
    if scheme not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {scheme!r}")
    if scheme == "pytorch":
        return model
    for module in model.modules():
        if isinstance(module, nn.ConvTranspose2d):
            bound = 2 * SID_TRANSPOSED_STD
            nn.init.trunc_normal_(module.weight, std=SID_TRANSPOSED_STD, a=-bound, b=bound)
        elif isinstance(module, nn.Conv2d):
            nn.init.xavier_uniform_(module.weight)
        else:
            continue
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    return model

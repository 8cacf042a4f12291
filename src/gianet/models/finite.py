"""The one check that a network's output is finite, for every stage that runs a network.

A checkpoint with broken weights (NaN or infinite, from a diverged training or a damaged
file that still loads) gives NaN or infinite outputs. Clipped to [0, 1] they would pass for
images: +inf becomes white (evaluate once scored such a frame 4.23 dB PSNR and exited 0),
NaN poisons every mean. So ``enhance``, ``evaluate`` and training's validation check each
output with :func:`check_finite` before clipping it, and refuse in the same words.
"""

from __future__ import annotations

import torch

from gianet.errors import GianetError


class NonFiniteOutput(GianetError, ValueError):
    """A network's output holds NaN or infinity; the message names what ran and the fix."""


def check_finite(output: torch.Tensor, what: str, consequence: str, fix: str) -> None:
    """Refuse an output that is not finite everywhere.

    Args:
        output: the network's raw output, any shape (before clipping), on any device.
        what: what produced it, for the message (``"model.pt on test frame 00001_00_0.1s"``).
        consequence: what was or was not written (``"nothing was written"``).
        fix: what to do.

    Raises:
        NonFiniteOutput: ``output`` has a NaN or an infinity; the message gives the share of
            such values.
    """
    finite = torch.isfinite(output)
    if bool(finite.all()):
        return
    share = 1 - finite.float().mean().item()
    raise NonFiniteOutput(
        f"{what}: the network's output is not finite at {share:.1%} of its values (NaN or "
        f"infinity): the weights are broken or the input is out of range; {consequence}. {fix}"
    )

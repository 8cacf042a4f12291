"""SID's initialisation (TF-slim's defaults): Xavier-uniform convolutions with zero biases,
transposed convolutions from a normal of std 0.02 truncated at two standard deviations."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import nn

from gianet.models import build_model, initialise

#: Standard deviation of a normal truncated at +-2 sigma, relative to sigma.
TRUNCATED_STD = stats.truncnorm(-2, 2).std()


def sid_initialised(**arguments: object) -> nn.Module:
    torch.manual_seed(0)
    return initialise(build_model("unet", in_channels=4, upscale=2, **arguments), "sid")


def glorot_bound(conv: nn.Conv2d) -> float:
    receptive = conv.kernel_size[0] * conv.kernel_size[1]
    fan_in, fan_out = conv.in_channels * receptive, conv.out_channels * receptive
    return math.sqrt(6 / (fan_in + fan_out))


def test_convolutions_are_xavier_uniform_with_zero_biases() -> None:
    model = sid_initialised(gia=True)
    convs = [m for m in model.modules() if type(m) is nn.Conv2d]
    assert len(convs) == 21  # 18 3x3, the head and the GIA module's two
    scaled = []
    for conv in convs:
        bound = glorot_bound(conv)
        weights = conv.weight.detach().flatten()
        assert weights.abs().max() <= bound
        assert torch.count_nonzero(conv.bias) == 0
        if weights.numel() > 100_000:  # each large layer on its own
            assert weights.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.01)
            assert weights.abs().max() > 0.999 * bound
        scaled.append(weights / bound)
    pooled = torch.cat(scaled).double().numpy()  # uniform on [-1, 1] if Xavier-uniform
    assert stats.kstest(pooled, stats.uniform(-1, 2).cdf).pvalue > 1e-3
    assert abs(pooled.mean()) < 1e-3


def test_transposed_convolutions_are_a_normal_of_std_002_truncated_at_two_std() -> None:
    model = sid_initialised()
    ups = [m for m in model.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 4 and all(up.bias is None for up in ups)
    weights = torch.cat([up.weight.detach().flatten() for up in ups]).double().numpy()
    assert abs(weights).max() <= 0.04
    assert weights.std() == pytest.approx(0.02 * TRUNCATED_STD, rel=0.01)
    assert stats.kstest(weights, stats.truncnorm(-2, 2, scale=0.02).cdf).pvalue > 1e-3


def test_pytorch_initialisation_is_left_alone_and_sids_is_seeded() -> None:
    torch.manual_seed(0)
    model = build_model("unet", in_channels=4, upscale=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    initialise(model, "pytorch")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    conv = model.encoder[0][1][0]  # 32 -> 32, 3 x 3
    assert torch.count_nonzero(conv.bias) > 0  # PyTorch draws biases; SID's are zero
    assert conv.weight.abs().max() <= 1 / math.sqrt(32 * 9) < glorot_bound(conv) / 1.7
    again = sid_initialised()
    assert torch.equal(sid_initialised().state_dict()["head.conv.weight"], again.head.conv.weight)
    with pytest.raises(ValueError, match="init must be one of pytorch, sid"):
        initialise(model, "kaiming")


@pytest.mark.parametrize("arch", ["dncnn", "ridnet"])
def test_every_architecture_takes_sids_rule(arch: str) -> None:
    torch.manual_seed(0)
    model = initialise(build_model(arch, in_channels=4, upscale=2), "sid")
    for conv in (m for m in model.modules() if type(m) is nn.Conv2d):
        assert conv.weight.abs().max() <= glorot_bound(conv)
        assert conv.bias is None or torch.count_nonzero(conv.bias) == 0

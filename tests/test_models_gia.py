"""The GIA module: global statistics reach every position; local windows do not."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gianet.models import GIAModule, build_model
from gianet.models.gia import local_average, replicate_pad_spread


@pytest.fixture
def x() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(2, 8, 11, 14)


def make_module(pool_window: int | None = None) -> GIAModule:
    torch.manual_seed(1)
    return GIAModule(channels=8, pool_window=pool_window)


def test_context_is_the_shrunk_channel_mean_upsampled_bilinearly(x: torch.Tensor) -> None:
    """The paper's order, upsample (f2) then the 1x1 convolution, equals ours on a constant."""
    gia = make_module()
    upsampled_mean = F.interpolate(
        x.mean(dim=(-2, -1), keepdim=True), size=x.shape[-2:], mode="bilinear"
    )
    expected = gia.shrink(upsampled_mean)
    context = gia.context(x)
    assert context.shape == (2, 4, 11, 14)
    torch.testing.assert_close(context, expected)
    torch.testing.assert_close(context, context[..., :1, :1].expand_as(context))


def test_output_is_equivariant_to_any_spatial_permutation(x: torch.Tensor) -> None:
    """Each output pixel depends only on its own input pixel and the global mean."""
    gia = make_module()
    permutation = torch.randperm(11 * 14)

    def permute(t: torch.Tensor) -> torch.Tensor:
        return t.flatten(-2)[..., permutation].reshape(t.shape)

    torch.testing.assert_close(gia(permute(x)), permute(gia(x)))


def test_one_pixel_changes_the_output_everywhere(x: torch.Tensor) -> None:
    gia = make_module()
    changed = x.clone()
    changed[..., 0, 0] += 10.0
    assert not torch.allclose(gia(changed)[..., -1, -1], gia(x)[..., -1, -1])


def test_channel_widths_follow_table_4() -> None:
    gia = GIAModule(channels=512)
    assert (gia.shrink[0].in_channels, gia.shrink[0].out_channels) == (512, 256)
    assert (gia.fuse[0].in_channels, gia.fuse[0].out_channels) == (768, 512)
    assert sum(p.numel() for p in gia.parameters()) == 512 * 256 + 256 + 768 * 512 + 512


def test_unet_places_gia_in_the_bottleneck() -> None:
    model = build_model("unet", in_channels=4, upscale=2, gia=True, gia_pool_window=32)
    (gia,) = [m for m in model.modules() if isinstance(m, GIAModule)]
    assert gia is model.bottleneck_extra[-1]
    assert gia.pool_window == 32


@pytest.mark.parametrize("window", [3, 4])
def test_local_average_is_the_box_mean_of_each_window(x: torch.Tensor, window: int) -> None:
    averaged = local_average(x, (window, window))
    assert averaged.shape == (2, 8, 11 - window + 1, 14 - window + 1)
    for i, j in [(0, 0), (5, 7), (11 - window, 14 - window)]:
        box = x[..., i : i + window, j : j + window].mean(dim=(-2, -1))
        torch.testing.assert_close(averaged[..., i, j], box)


def test_window_pool_uses_the_window_around_each_position(x: torch.Tensor) -> None:
    """Interior positions see their centred window; border positions the nearest window."""
    window = 3
    gia = make_module(pool_window=window)
    context = gia.context(x)
    assert context.shape == (2, 4, 11, 14)
    for i, j in [(0, 0), (5, 7), (10, 13), (1, 12)]:
        top = min(max(i - 1, 0), 11 - window)
        left = min(max(j - 1, 0), 14 - window)
        box = x[..., top : top + window, left : left + window].mean(dim=(-2, -1), keepdim=True)
        torch.testing.assert_close(context[..., i : i + 1, j : j + 1], gia.shrink(box))


def test_window_pool_is_blind_beyond_the_window(x: torch.Tensor) -> None:
    gia = make_module(pool_window=3)
    changed = x.clone()
    changed[..., 0, 0] += 10.0
    torch.testing.assert_close(gia(changed)[..., 3:, 3:], gia(x)[..., 3:, 3:])
    assert not torch.allclose(gia(changed)[..., 1, 1], gia(x)[..., 1, 1])


@pytest.mark.parametrize("window", [14, 100])
def test_a_window_covering_the_input_is_global_pooling(x: torch.Tensor, window: int) -> None:
    torch.testing.assert_close(make_module(pool_window=window)(x), make_module()(x))


def test_a_window_covering_one_side_pools_that_side_globally(x: torch.Tensor) -> None:
    gia = make_module(pool_window=11)  # all 11 rows, 11 of 14 columns
    context = gia.context(x)
    torch.testing.assert_close(context, context[..., :1, :].expand_as(context))
    box = x[..., :, 3:14].mean(dim=(-2, -1), keepdim=True)
    torch.testing.assert_close(context[..., :1, -1:], gia.shrink(box))


@pytest.mark.parametrize("pool_window", [None, 3, 4, 11, 100])
def test_broadcast_spread_equals_replicate_padding_in_output_and_gradient(
    x: torch.Tensor, pool_window: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gianet.models import gia as gia_module

    upstream = torch.randn(2, 8, 11, 14, generator=torch.Generator().manual_seed(2))

    def output_and_gradients(dtype: torch.dtype) -> list[torch.Tensor]:
        module = make_module(pool_window).to(dtype)
        inputs = x.detach().to(dtype).clone().requires_grad_()
        output = module(inputs)
        (output * upstream.to(dtype)).sum().backward()
        return [output.detach(), inputs.grad, *(p.grad for p in module.parameters())]

    for dtype, tolerance in ((torch.float32, 1e-6), (torch.float64, 1e-13)):
        ours = output_and_gradients(dtype)
        with monkeypatch.context() as patch:
            patch.setattr(gia_module, "spread_to", replicate_pad_spread)
            former = output_and_gradients(dtype)
        assert torch.equal(ours[0], former[0])  # the values are copies: bit for bit
        for new, old in zip(ours[1:], former[1:], strict=True):
            # Gradients sum the same terms, possibly in another order.
            torch.testing.assert_close(new, old, rtol=tolerance, atol=tolerance)


def test_global_spread_is_a_view_without_copies(x: torch.Tensor) -> None:
    from gianet.models.gia import spread_to

    pooled = x.mean(dim=(-2, -1), keepdim=True)
    spread = spread_to(pooled, (11, 14))
    assert spread.shape == (2, 8, 11, 14)
    assert spread.data_ptr() == pooled.data_ptr() and spread.stride()[-2:] == (0, 0)

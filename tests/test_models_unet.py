"""SID-Net's layout and TensorFlow 'SAME' semantics on sizes that are not multiples of 16."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gianet.models import UNet, build_model
from gianet.models.blocks import SeeWiderConv
from gianet.models.cost import FUJI_FULL_FRAME, SONY_FULL_FRAME, Frame
from gianet.models.unet import CroppedTransposedUp


def same_padding(size: int) -> int:
    """TensorFlow 'SAME' padding (all at the end) of a 2x2 stride-2 window over ``size``."""
    return 2 * -(-size // 2) - size


def test_pooling_is_tensorflow_same_max_pool() -> None:
    x = torch.randn(1, 3, 7, 10)
    padded = F.pad(x, (0, same_padding(10), 0, same_padding(7)), value=-torch.inf)
    model = UNet(in_channels=4, upscale=2)
    torch.testing.assert_close(model.pool(x), F.max_pool2d(padded, 2))


@pytest.mark.parametrize("skip_size", [(7, 10), (8, 8), (1, 5)])
def test_upsampling_is_the_adjoint_of_a_same_strided_convolution(
    skip_size: tuple[int, int],
) -> None:
    """TF's ``conv2d_transpose(x, W, output_shape=skip)`` is by definition the adjoint of the
    'SAME' stride-2 convolution by ``W`` of a skip-sized map: <up(y), z> = <y, conv(z)>."""
    torch.manual_seed(0)
    up = CroppedTransposedUp(in_channels=5, out_channels=3).double()
    height, width = skip_size
    y = torch.randn(2, 5, -(-height // 2), -(-width // 2), dtype=torch.float64)
    z = torch.randn(2, 3, height, width, dtype=torch.float64)
    z_padded = F.pad(z, (0, same_padding(width), 0, same_padding(height)))
    conv_z = F.conv2d(z_padded, up.conv.weight, stride=2)
    upsampled = up(y, skip_size)
    assert upsampled.shape == z.shape
    torch.testing.assert_close((upsampled * z).sum(), (y * conv_z).sum())


@pytest.mark.parametrize("frame", [SONY_FULL_FRAME, FUJI_FULL_FRAME, Frame(4, 1, 1, 2)])
def test_any_frame_size_maps_to_upscaled_rgb(frame: Frame) -> None:
    with torch.device("meta"):
        model = UNet(frame.in_channels, frame.upscale, gia=True)
        output = model(torch.empty(frame.input_shape))
    assert output.shape == (1, 3, frame.upscale * frame.height, frame.upscale * frame.width)


def test_sid_net_layout() -> None:
    model = build_model("unet", in_channels=4, upscale=2)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [m.kernel_size for m in convs] == [(3, 3)] * 18 + [(1, 1)]
    assert [m.out_channels for m in convs[:10]] == [32, 32, 64, 64, 128, 128, 256, 256, 512, 512]
    assert [m.out_channels for m in convs[10:]] == [256, 256, 128, 128, 64, 64, 32, 32, 12]
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.ConvTranspose2d)] == [
        256,
        128,
        64,
        32,
    ]
    assert all(m.bias is not None for m in convs)
    slopes = {m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def test_variants_change_only_what_they_name() -> None:
    base = build_model("unet", in_channels=4, upscale=2)
    dilated = build_model("unet", in_channels=4, upscale=2, dilation=2)
    see_wider = build_model("unet", in_channels=4, upscale=2, sw_blocks=True)

    def dilations(model: nn.Module) -> list[tuple[int, int]]:
        return [m.dilation for m in model.modules() if type(m) is nn.Conv2d]

    assert set(dilations(base)) == {(1, 1)}
    assert dilations(dilated) == [(2, 2)] * 18 + [(1, 1)]
    sw_blocks = [m for m in see_wider.modules() if isinstance(m, SeeWiderConv)]
    assert len(sw_blocks) == 18
    assert all(
        b.local.dilation == (1, 1)
        and b.wide.dilation == (2, 2)
        and b.local.out_channels == b.wide.out_channels
        for b in sw_blocks
    )
    counts = {sum(p.numel() for p in m.parameters()) for m in (base, dilated, see_wider)}
    assert counts == {7_760_268}


def test_extra_bottleneck_convs_add_what_gia_adds() -> None:
    """Table 3 model 2 controls for the GIA module's two extra layers: same count, ~same size."""

    def added(**arguments: object) -> tuple[int, int]:
        model = build_model("unet", in_channels=4, upscale=2, **arguments)
        layers = sum(1 for m in model.modules() if isinstance(m, nn.Conv2d))
        return layers - 19, sum(p.numel() for p in model.parameters()) - 7_760_268

    gia_layers, gia_params = added(gia=True)
    extra_layers, extra_params = added(extra_bottleneck_convs=2)
    assert gia_layers == extra_layers == 2
    assert extra_params == pytest.approx(gia_params, rel=0.001)


def test_model_2s_kernel_is_a_parameter_and_3_is_sids_bottleneck_convolution() -> None:
    """With SID's 3 x 3 bottleneck convolution the two added layers carry 4.7 M parameters."""
    deeper = build_model(
        "unet", in_channels=4, upscale=2, extra_bottleneck_convs=2, extra_bottleneck_kernel=3
    )
    added = [m for m in deeper.bottleneck_extra.modules() if isinstance(m, nn.Conv2d)]
    bottleneck = [m for m in deeper.bottleneck.modules() if isinstance(m, nn.Conv2d)]
    assert [m.kernel_size for m in added] == [(3, 3)] * 2 == [m.kernel_size for m in bottleneck]
    assert sum(p.numel() for p in deeper.parameters()) - 7_760_268 == 2 * (512 * 512 * 9 + 512)
    image = torch.rand(1, 4, 37, 45)
    assert deeper(image).shape == (1, 3, 74, 90)
    with pytest.raises(ValueError, match="odd and positive"):
        build_model("unet", in_channels=4, upscale=2, extra_bottleneck_kernel=2)

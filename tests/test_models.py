"""Every registered architecture, both cameras: shapes, gradients, a few training steps."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gianet.models import available_architectures, build_model, register

#: (architecture, constructor arguments) exercised for each camera: every registered
#: architecture, every U-Net variant, small sizes where the default is slow on a CPU.
CASES: dict[str, tuple[str, dict]] = {
    "sid_net": ("unet", {}),
    "gia": ("unet", {"gia": True}),
    "gia_window": ("unet", {"gia": True, "gia_pool_window": 2}),
    "extra_convs": ("unet", {"extra_bottleneck_convs": 2}),
    "dilated": ("unet", {"dilation": 2}),
    "sw": ("unet", {"sw_blocks": True}),
    "se": ("unet", {"se_bottleneck": True}),
    "dncnn": ("dncnn", {"depth": 5, "channels": 16}),
    "ridnet": ("ridnet", {"channels": 16, "blocks": 1}),
}
#: (in_channels, upscale): packed Bayer (Sony) and packed X-Trans (Fuji).
CAMERAS = {"sony": (4, 2), "fuji": (9, 3)}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """These tensors are tiny: extra threads only add overhead, and on a shared CPU they
    oversubscribe it (10-20x slower steps were measured on 2 busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_cases_cover_every_registered_architecture() -> None:
    assert {arch for arch, _ in CASES.values()} == set(available_architectures())


@pytest.mark.parametrize("camera", CAMERAS)
@pytest.mark.parametrize("case", CASES)
def test_forward_backward_and_training_steps(case: str, camera: str) -> None:
    arch, arguments = CASES[case]
    in_channels, upscale = CAMERAS[camera]
    torch.manual_seed(0)
    model = build_model(arch, in_channels=in_channels, upscale=upscale, **arguments)
    height, width = 37, 45  # odd, and not multiples of 16
    packed = torch.rand(2, in_channels, height, width)
    target = torch.rand(2, 3, upscale * height, upscale * width)

    output = model(packed)
    assert output.shape == target.shape
    assert torch.isfinite(output).all()
    F.l1_loss(output, target).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} gets no gradient"
        assert torch.isfinite(parameter.grad).all(), name

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)  # SID's learning rate
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = F.l1_loss(model(packed), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        losses.append(F.l1_loss(model(packed), target).item())
    assert all(later < earlier for earlier, later in pairwise(losses)), losses


@pytest.mark.parametrize("case", CASES)
def test_transposed_convolutions_have_no_bias(case: str) -> None:
    arch, arguments = CASES[case]
    model = build_model(arch, in_channels=4, upscale=2, **arguments)
    transposed = [m for m in model.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(transposed) == (4 if arch == "unet" else 0)
    assert all(m.bias is None for m in transposed)


def test_unknown_architecture_is_named_with_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="'resnet'.*dncnn, ridnet, unet"):
        build_model("resnet", in_channels=4, upscale=2)


def test_unknown_argument_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"\['gia_module'\].*in_channels, upscale, .*gia"):
        build_model("unet", in_channels=4, upscale=2, gia_module=True)


def test_missing_camera_arguments_are_errors() -> None:
    with pytest.raises(ValueError, match=r"missing required argument\(s\) \['upscale'\]"):
        build_model("dncnn", in_channels=4)


def test_registering_a_name_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="'unet' is already registered"):
        register("unet")(nn.Identity)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"gia_pool_window": 8}, "gia is False"),
        ({"sw_blocks": True, "dilation": 2}, "sw_blocks"),
        ({"gia": True, "gia_pool_window": 0}, "pool_window"),
    ],
)
def test_inconsistent_unet_options_are_errors(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_model("unet", in_channels=4, upscale=2, **arguments)

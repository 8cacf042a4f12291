"""Every declared variant, on both cameras: builds, trains a few steps with its own loss."""

from pathlib import Path

import pytest
import torch
import yaml

from gianet.models import available_architectures, build_model
from gianet.training.losses import build_loss
from gianet.variants import VARIANTS, UnknownVariant, get_variant

# (in_channels, upscale, odd packed size whose RGB output passes MS-SSIM's 161-pixel minimum)
CAMERAS = {"Sony": (4, 2, (83, 85)), "Fuji": (9, 3, (55, 57))}


def test_declaration_is_consistent():
    assert {v.arch for v in VARIANTS.values()} <= set(available_architectures())
    table3 = sorted(int(r.model) for v in VARIANTS.values() for r in v.paper if r.table == 3)
    assert table3 == list(range(1, 10))
    assert get_variant("gia_net").loss == "l1+ms-ssim" and get_variant("gia_net").crops == (
        "multi-size"
    )
    with pytest.raises(UnknownVariant, match="declared variants: sid_net"):
        get_variant("gia-net")


@pytest.mark.parametrize("camera", CAMERAS)
@pytest.mark.parametrize("name", VARIANTS)
def test_variant_trains_on_odd_sizes_with_its_loss(name, camera):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    variant = get_variant(name)
    in_channels, upscale, (height, width) = CAMERAS[camera]
    model = build_model(variant.arch, in_channels=in_channels, upscale=upscale, **variant.arch_args)
    inputs = torch.rand(1, in_channels, height, width)
    target = torch.nn.functional.interpolate(inputs[:, :3], scale_factor=upscale).clamp(0, 1)
    loss_fn = build_loss(variant.loss, 0.84)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(4):
        output = model(inputs)
        assert output.shape == (1, 3, upscale * height, upscale * width)
        assert torch.isfinite(output).all()
        loss = loss_fn(output, target)
        optimizer.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_a_variant_is_handed_only_the_train_settings_it_uses():
    from gianet.variants import train_settings_for, unused_train_settings

    train = yaml.safe_load(Path("params.yaml").read_text())["train"]
    sid_net = train_settings_for(VARIANTS["sid_net"], train)
    assert "patch" in sid_net and "multi_size_b" not in sid_net
    assert "msssim_exponents" not in sid_net and "extra_convs_kernel" not in sid_net
    gia_net = train_settings_for(VARIANTS["gia_net"], train)
    assert "patch" not in gia_net and gia_net["msssim_exponents"] == train["msssim_exponents"]
    assert "extra_convs_kernel" in train_settings_for(VARIANTS["sid_net_deeper"], train)
    for variant in VARIANTS.values():
        kept = train_settings_for(variant, train)
        assert set(kept) | unused_train_settings(variant) == set(train)
        assert {"seed", "lr", "epochs", "init", "shots", "flips"} <= set(kept)

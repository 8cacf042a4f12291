"""Every declared variant, on both cameras: builds, trains a few steps with its own loss."""

import pytest
import torch

from gianet.models import available_architectures, build_model
from gianet.training.losses import build_loss
from gianet.variants import VARIANTS, UnknownVariant, get_variant
from tests.conftest import recipe

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
    loss_fn = build_loss(recipe(name).loss)
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


def test_a_variants_recipe_holds_only_the_train_settings_it_uses():
    sid_net = recipe("sid_net")
    assert sid_net.crops.kind == "fixed" and sid_net.loss.kind == "l1"
    assert "extra_bottleneck_kernel" not in sid_net.arch_args
    gia_net = recipe("gia_net")
    assert gia_net.crops.kind == "multi-size" and gia_net.loss.exponents == "paper"
    assert recipe("sid_net_deeper", extra_convs_kernel=1).arch_args["extra_bottleneck_kernel"] == 1
    # A setting a variant does not use leaves its recipe as it was: nothing retrains.
    assert recipe("sid_net", msssim_exponents="wang") == sid_net
    assert recipe("sid_net", multi_size_a=5) == sid_net
    assert recipe("gia_net", patch=200) == gia_net
    assert recipe("gia_net", extra_convs_kernel=1) == gia_net
    assert recipe("gia_net", lr=3e-4) != gia_net


@pytest.mark.parametrize("name", VARIANTS)
def test_a_narrower_width_scales_every_architecture_in_proportion(name):
    from gianet.variants import ARCH_WIDTHS

    variant = get_variant(name)
    argument, paper = ARCH_WIDTHS[variant.arch]
    # The paper's width: as declared.
    assert recipe(name, width=32).arch_args.get(argument, paper) == paper
    narrow = recipe(name, width=16).arch_args
    assert narrow[argument] == paper // 2
    with torch.device("meta"):
        build_model(variant.arch, in_channels=4, upscale=2, **narrow)


def test_each_architectures_width_argument_is_its_constructors_with_the_paper_value():
    import inspect

    from gianet.models import architecture_class
    from gianet.variants import ARCH_WIDTHS

    assert set(ARCH_WIDTHS) == set(available_architectures())
    for arch, (argument, paper) in ARCH_WIDTHS.items():
        assert inspect.signature(architecture_class(arch)).parameters[argument].default == paper


def test_the_baselines_recipe_setting_changes_exactly_the_three_baselines():
    """train.baseline_recipe: sid trains SE-UNet, DnCNN and RIDNet as SID-Net (L1, fixed
    crops), gia-net as GIA-Net (the joint loss, multi-size crops); no other variant's recipe,
    and so no other training, changes."""
    changed = {
        name
        for name in VARIANTS
        if recipe(name, baseline_recipe="gia-net") != recipe(name, baseline_recipe="sid")
    }
    assert changed == {"se_unet", "dncnn", "ridnet"}
    gia_net = recipe("gia_net")
    for name in changed:
        as_sid, as_gia = (
            recipe(name, baseline_recipe="sid"),
            recipe(name, baseline_recipe="gia-net"),
        )
        assert (as_sid.loss.kind, as_sid.crops.kind) == ("l1", "fixed")
        assert (as_gia.loss, as_gia.crops) == (gia_net.loss, gia_net.crops)
        assert as_gia.arch_args == as_sid.arch_args

"""Parameter and FLOP counts: paper Table 4, and the counter itself."""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from gianet.models import FULL_FRAMES, build_model, cost_table, count_flops, count_parameters
from gianet.models.cost import SONY_FULL_FRAME


@pytest.fixture(scope="module")
def table4() -> dict[str, dict[str, str]]:
    """The paper's Table 4 as shipped with the package (``report/table4_cost.csv``)."""
    with (files("gianet") / "report" / "table4_cost.csv").open() as handle:
        return {row["model"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def sony_costs() -> dict[str, dict]:
    archs = {"SID-Net": {"arch": "unet"}, "GIA-Net": {"arch": "unet", "gia": True}}
    rows = cost_table(archs, {"sony": SONY_FULL_FRAME})
    return {row["model"]: row for row in rows}


def sid_net_flops(height: int, width: int, upscale: int = 2, in_channels: int = 4) -> int:
    """SID-Net's FLOPs written out level by level, with TensorFlow 'SAME' (ceil) pooling."""
    sizes = [(height, width)]
    for _ in range(4):
        sizes.append((-(-sizes[-1][0] // 2), -(-sizes[-1][1] // 2)))
    pixels = [h * w for h, w in sizes]
    widths = [32, 64, 128, 256, 512]
    macs = 9 * (in_channels * 32 + 32 * 32) * pixels[0]
    for level in range(1, 5):  # encoder levels 2-4 and the bottleneck
        macs += 9 * (widths[level - 1] + widths[level]) * widths[level] * pixels[level]
    for level in range(4):  # decoder: transposed conv per input pixel, then two 3x3 convs
        macs += 4 * widths[level + 1] * widths[level] * pixels[level + 1]
        macs += 9 * (2 * widths[level] + widths[level]) * widths[level] * pixels[level]
    macs += widths[0] * 3 * upscale**2 * pixels[0]
    return 2 * macs


def test_sid_net_has_the_papers_parameter_count(
    table4: dict[str, dict[str, str]], sony_costs: dict[str, dict]
) -> None:
    params = sony_costs["SID-Net"]["params"]
    assert params == 7_760_268
    assert round(params / 1e6, 2) == float(table4["SID-Net"]["params_millions"])


def test_sid_net_flops_match_the_layer_by_layer_count_and_the_paper(
    table4: dict[str, dict[str, str]], sony_costs: dict[str, dict]
) -> None:
    flops = sony_costs["SID-Net"]["flops"]
    assert flops == sid_net_flops(1416, 2120)
    assert flops / 1e9 == pytest.approx(float(table4["SID-Net"]["flops_billions"]), rel=0.005)


def test_gia_net_costs_match_table_4(
    table4: dict[str, dict[str, str]], sony_costs: dict[str, dict]
) -> None:
    gia = sony_costs["GIA-Net"]
    assert gia["params_ratio"] == pytest.approx(float(table4["GIA-Net"]["params_ratio"]), abs=0.005)
    assert gia["flops_ratio"] == pytest.approx(float(table4["GIA-Net"]["flops_ratio"]), abs=0.002)


@pytest.mark.parametrize(
    ("arch", "arguments"),
    [("unet", {"gia": True}), ("dncnn", {"depth": 4}), ("ridnet", {"blocks": 1})],
)
def test_meta_count_equals_a_real_forward_count(arch: str, arguments: dict) -> None:
    model = build_model(arch, in_channels=4, upscale=2, **arguments)
    shape = (1, 4, 21, 34)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(shape))
    before = {name: t.clone() for name, t in model.state_dict().items()}
    assert count_flops(model, shape) == counter.get_total_flops() > 0
    assert all(p.device.type == "cpu" for p in model.parameters())
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, before[name], msg=name)


def test_count_parameters_counts_parameters_not_buffers() -> None:
    model = build_model("dncnn", in_channels=4, upscale=2, depth=3, channels=8)
    # first conv 4*8*9+8, one conv (no bias) + BN 8*8*9+2*8, last conv 8*12*9+12, skip 4*12+12
    assert count_parameters(model) == 296 + 592 + 876 + 60


def test_cost_table_covers_every_camera_and_model() -> None:
    archs = {
        "SID-Net": {"arch": "unet"},
        "GIA-Net": {"arch": "unet", "gia": True},
        "DnCNN": {"arch": "dncnn"},
        "RIDNet": {"arch": "ridnet"},
    }
    rows = cost_table(archs)
    assert [(r["camera"], r["model"]) for r in rows] == [
        (camera, model) for camera in FULL_FRAMES for model in archs
    ]
    assert {r["input_shape"] for r in rows} == {"4x1416x2120", "9x1344x2010"}
    fuji = {r["model"]: r for r in rows if r["camera"] == "Fuji"}
    assert fuji["SID-Net"]["flops"] == sid_net_flops(1344, 2010, upscale=3, in_channels=9)
    assert fuji["SID-Net"]["params_ratio"] == fuji["SID-Net"]["flops_ratio"] == 1.0
    assert fuji["GIA-Net"]["flops_ratio"] == pytest.approx(1.008, abs=0.002)


def test_cost_table_reference_must_be_a_model() -> None:
    with pytest.raises(ValueError, match="'SID-Net' is not one of the models"):
        cost_table({"GIA-Net": {"arch": "unet", "gia": True}}, reference="SID-Net")


@pytest.mark.parametrize("kernel", [1, 3])
def test_table_4_rows_count_model_2_with_its_configured_kernel(kernel: int) -> None:
    from gianet.report.costs import variant_costs

    rows = {row["variant"]: row for row in variant_costs(["Sony"], kernel)}
    deeper = rows["sid_net_deeper"]
    assert deeper["arch_args"] == {"extra_bottleneck_convs": 2, "extra_bottleneck_kernel": kernel}
    added = 2 * (512 * 512 * kernel**2 + 512)
    assert deeper["params"] == rows["sid_net"]["params"] + added == 7_760_268 + added
    assert rows["gia_net"]["arch_args"] == {"gia": True}

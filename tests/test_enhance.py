"""`gianet enhance` on real camera raws with randomly initialised checkpoints."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from torchvision.io import ImageReadMode, decode_png

from gianet.cli import main
from gianet.data.raw import RawError, pack, read_mosaic
from gianet.data.tensors import amplify
from gianet.inference.enhance import (
    EnhanceError,
    amplification_ratio,
    default_device,
    enhance_file,
    run_network,
)
from gianet.inference.tiling import run_tiled, tiling_caveat
from gianet.jobs.device import tf32
from gianet.models import build_model
from gianet.models.checkpoint import CheckpointError, load_model, save_checkpoint
from tests.conftest import COLORCHART, GRBG_EXPOSURE, checkpoint_meta, optional_raw

C330 = "marginal/RAW_KODAK_C330_FORMAT_NONE_YRGB.raw"
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_unet(
    in_channels: int = 4, upscale: int = 2, base_channels: int = 4, gia: bool = False
) -> torch.nn.Module:
    """A U-Net with variance-preserving random weights and zero biases.

    PyTorch's default initialisation shrinks activations layer after layer, so the deep
    levels (and GIA) would barely touch the output and tiling errors would go unseen.
    """
    torch.manual_seed(3)
    model = build_model(
        "unet", in_channels=in_channels, upscale=upscale, base_channels=base_channels, gia=gia
    )
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
            torch.nn.init.kaiming_normal_(module.weight, a=0.2, nonlinearity="leaky_relu")
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
    return model.eval()


def save_random_checkpoint(
    path: Path, cfa: str = "bayer", base_channels: int = 8, gia: bool = False
) -> Path:
    """A random U-Net (:func:`random_unet`) saved as training would save it."""
    in_channels, upscale = (4, 2) if cfa == "bayer" else (9, 3)
    arch_args = {"base_channels": base_channels, "gia": gia}
    model = random_unet(in_channels, upscale, base_channels, gia)
    meta = checkpoint_meta(
        arch_args=arch_args, in_channels=in_channels, upscale=upscale, cfa=cfa, camera="test"
    )
    save_checkpoint(path, model, meta)
    return path


def read_png16(path: Path) -> np.ndarray:
    data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
    return decode_png(data, ImageReadMode.UNCHANGED).permute(1, 2, 0).numpy()


@pytest.fixture
def bayer_checkpoint(tmp_path) -> Path:
    return save_random_checkpoint(tmp_path / "bayer.pt")


def test_colorchart_png_is_the_network_output_at_full_resolution(tmp_path, bayer_checkpoint):
    raw = COLORCHART
    # The chart is well exposed: a ratio of 10 leaves most of the input below the clip at 1.
    out = enhance_file(raw, bayer_checkpoint, tmp_path / "out.png", ratio=10)
    image = read_png16(out)
    packed, scale = pack(read_mosaic(raw))
    assert packed.shape == (4, 578, 867)
    assert image.dtype == np.uint16 and image.shape == (2 * 578, 2 * 867, 3)
    assert image.std() > 100 and len(np.unique(image)) > 1000
    # The file holds round(65535 * clip(model(min(packed / scale * 10, 1)), 0, 1)), the model
    # run where enhance runs it (CUDA when present) in IEEE float32, TF32 off as enhance has
    # it: a GPU's float32 convolutions round otherwise than the CPU's and may exceed one
    # step (tests/test_gpu.py bounds that difference).
    model, _ = load_model(bayer_checkpoint)
    device = torch.device(default_device())
    with torch.inference_mode(), tf32(False):
        inputs = amplify(packed, scale, 10.0, 1.0)[None].to(device)
        expected = model.to(device)(inputs).clamp(0, 1)[0].cpu()
    expected16 = (expected.permute(1, 2, 0).numpy() * 65535.0 + 0.5).astype(np.int64)
    assert np.abs(image.astype(np.int64) - expected16).max() <= 1


def test_grbg_file_gives_a_tiff_from_its_exposure_time(tmp_path, bayer_checkpoint, grbg_raw):
    # The file records its exposure time: a target 100 times longer is a ratio of 100.
    target = 100 * GRBG_EXPOSURE
    assert amplification_ratio(grbg_raw, None, target) == pytest.approx(100, rel=1e-6)
    out = enhance_file(grbg_raw, bayer_checkpoint, tmp_path / "out.tif", target_exposure=target)
    image = tifffile.imread(out)
    assert read_mosaic(grbg_raw).pattern_name == "GRBG"
    assert image.dtype == np.uint16 and image.shape == (512, 768, 3)
    assert image.std() > 100


def test_xtrans_checkpoint_is_refused_for_a_bayer_file(tmp_path):
    checkpoint = save_random_checkpoint(tmp_path / "fuji.pt", cfa="xtrans")
    with pytest.raises(CheckpointError, match="trained for xtrans data but the input is bayer"):
        enhance_file(COLORCHART, checkpoint, tmp_path / "out.png", ratio=100)
    assert not (tmp_path / "out.png").exists()


def test_a_file_without_mosaic_is_refused(tmp_path, bayer_checkpoint):
    with pytest.raises(RawError, match="holds no colour-filter mosaic"):
        enhance_file(optional_raw(C330), bayer_checkpoint, tmp_path / "out.png", ratio=100)


def test_truncated_checkpoint_is_refused(tmp_path, bayer_checkpoint, grbg_raw):
    data = bayer_checkpoint.read_bytes()
    bayer_checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="perhaps truncated"):
        enhance_file(grbg_raw, bayer_checkpoint, tmp_path / "out.png", ratio=100)


class _TouchOnLoad:
    """Pickles to a call that creates ``marker`` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoint_carrying_code_is_refused_without_running_it(tmp_path, grbg_raw):
    marker = tmp_path / "code-ran"
    checkpoint = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "payload": _TouchOnLoad(marker)}, checkpoint)
    pickle.loads(pickle.dumps(_TouchOnLoad(tmp_path / "control")))
    assert (tmp_path / "control").exists()  # the payload does run under plain pickle
    with pytest.raises(CheckpointError, match="refused"):
        enhance_file(grbg_raw, checkpoint, tmp_path / "out.png", ratio=100)
    assert not marker.exists()


def test_checkpoint_whose_weights_do_not_fit_its_description_is_refused(tmp_path, grbg_raw):
    checkpoint = save_random_checkpoint(tmp_path / "c.pt", base_channels=8)
    state = torch.load(checkpoint, weights_only=True)
    torch.save({**state, "arch_args": {"base_channels": 16, "gia": False}}, checkpoint)
    with pytest.raises(CheckpointError, match="do not fit"):
        enhance_file(grbg_raw, checkpoint, tmp_path / "out.png", ratio=100)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "exactly one of --ratio and --target-exposure"),
        ({"ratio": 100, "target_exposure": 1.0}, "exactly one"),
        ({"ratio": 0}, "positive number"),
        ({"ratio": float("nan")}, "positive number"),
        ({"target_exposure": -1.0}, "positive number"),
        ({"target_exposure": 10.0}, "records no exposure time"),
    ],
)
def test_ratio_arguments_are_checked(arguments, message):
    ratio, target = arguments.get("ratio"), arguments.get("target_exposure")
    with pytest.raises(EnhanceError, match=message):
        amplification_ratio(COLORCHART, ratio, target)


def test_bad_suffix_and_tile_fail_before_any_work(tmp_path, grbg_raw):
    missing = tmp_path / "no-such-checkpoint.pt"
    with pytest.raises(EnhanceError, match=r"\.png, \.tif, \.tiff"):
        enhance_file(grbg_raw, missing, tmp_path / "out.jpg", ratio=100)
    for tile in (200, 208, 192, 100):
        with pytest.raises(EnhanceError, match="multiple of 16 of at least 288"):
            enhance_file(grbg_raw, missing, tmp_path / "out.png", ratio=100, tile=tile)


def test_amplify_scales_by_the_ratio_and_clips_at_max_input():
    packed = np.array([[[0, 100], [1000, 16000]]], np.uint16)
    inputs = amplify(packed, np.array([16000.0], np.float32), 10.0, 0.5)
    assert inputs.shape == (1, 2, 2)
    assert inputs.flatten().tolist() == pytest.approx([0.0, 0.0625, 0.5, 0.5])


@pytest.fixture
def colorchart_input() -> torch.Tensor:
    packed, scale = pack(read_mosaic(COLORCHART))
    return amplify(packed, scale, 10.0, 1.0)[None]  # a well-exposed chart: mean input about 0.45


def test_tiled_sid_net_equals_the_whole_frame(colorchart_input):
    model = random_unet()
    with torch.inference_mode():
        whole = model(colorchart_input)
    tiled = run_tiled(model, colorchart_input, tile=320)
    assert tiled.shape == whole.shape == (1, 3, 1156, 1734)
    assert whole.abs().max() > 0.01
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)
    # The check has teeth: with less context than the 94-pixel receptive field, seams differ.
    narrow = run_tiled(model, colorchart_input, tile=320, margin=80)
    assert (narrow - whole).abs().max() > 1e-3


def test_tiled_gia_net_sees_per_tile_statistics(colorchart_input):
    model = random_unet(gia=True)
    with torch.inference_mode():
        whole = model(colorchart_input)
    tiled = run_tiled(model, colorchart_input, tile=320)
    assert (tiled - whole).abs().max() > 1e-4


def test_tiled_enhance_writes_the_whole_frame_result(tmp_path, grbg_raw):
    checkpoint = save_random_checkpoint(tmp_path / "small.pt", base_channels=4)
    # Ratio 10 keeps colorchart's pixels mostly below the clip, so the output has detail.
    whole = enhance_file(grbg_raw, checkpoint, tmp_path / "whole.png", ratio=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain SID-Net tiles without a warning
        tiled = enhance_file(grbg_raw, checkpoint, tmp_path / "tiled.png", ratio=10, tile=288)
    difference = read_png16(whole).astype(np.int64) - read_png16(tiled).astype(np.int64)
    assert np.abs(difference).max() <= 1


def test_tiled_gia_net_warns(tmp_path, grbg_raw):
    checkpoint = save_random_checkpoint(tmp_path / "gia.pt", base_channels=4, gia=True)
    with pytest.warns(UserWarning, match="each tile sees its own statistics"):
        enhance_file(grbg_raw, checkpoint, tmp_path / "out.png", ratio=30, tile=288)


@pytest.mark.parametrize(
    ("arch_args", "caveat"),
    [
        ({}, None),
        ({"gia": True}, "pools over its whole input"),
        ({"se_bottleneck": True}, "pools over its whole input"),
        ({"dilation": 2}, "dilated convolutions"),
        ({"sw_blocks": True}, "dilated convolutions"),
    ],
)
def test_tiling_caveats_name_what_tiles_cannot_reproduce(arch_args, caveat):
    model = build_model("unet", in_channels=4, upscale=2, base_channels=16, **arch_args)
    found = tiling_caveat(model)
    assert found is None if caveat is None else caveat in found


class _Greedy(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.empty(2**50, device=x.device)


def test_out_of_memory_suggests_tiles():
    with pytest.raises(EnhanceError, match="--tile"):
        run_network(_Greedy(), torch.zeros(1, 4, 8, 8), tile=None, device="cpu")


def test_cli_writes_the_image(tmp_path, bayer_checkpoint, capsys, grbg_raw):
    out = tmp_path / "cli.png"
    argv = ["enhance", str(grbg_raw), "--checkpoint", str(bayer_checkpoint)]
    assert main([*argv, "--out", str(out), "--ratio", "100"]) == 0  # clipped as in training
    assert capsys.readouterr().out.strip() == str(out)
    assert read_png16(out).shape == (512, 768, 3)


def test_cli_without_ratio_prints_one_line_and_exits_2(
    tmp_path, bayer_checkpoint, capsys, grbg_raw
):
    argv = ["enhance", str(grbg_raw), "--checkpoint", str(bayer_checkpoint)]
    assert main([*argv, "--out", str(tmp_path / "cli.png")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert error.startswith("gianet enhance: error: give exactly one of --ratio and --target")
    assert not (tmp_path / "cli.png").exists()


def test_cli_reports_a_wrong_cfa_checkpoint_and_exits_2(tmp_path, capsys, grbg_raw):
    checkpoint = save_random_checkpoint(tmp_path / "fuji.pt", cfa="xtrans")
    argv = ["enhance", str(grbg_raw), "--checkpoint", str(checkpoint), "--ratio", "100"]
    assert main([*argv, "--out", str(tmp_path / "cli.png")]) == 2
    assert "trained for xtrans data but the input is bayer" in capsys.readouterr().err


def test_cli_enhance_needs_no_params_file(tmp_path, bayer_checkpoint, monkeypatch, grbg_raw):
    monkeypatch.chdir(tmp_path)  # no params.yaml here
    argv = ["enhance", str(grbg_raw), "--checkpoint", str(bayer_checkpoint)]
    assert main([*argv, "--out", "o.tif", "--target-exposure", "0.5"]) == 0
    assert tifffile.imread(tmp_path / "o.tif").shape == (512, 768, 3)

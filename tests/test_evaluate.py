"""Evaluation: real network outputs, per-image rows, perceptual metrics with and without weights."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from gianet.data.dataset import FullFrames, PackedPairs
from gianet.data.lists import Selection
from gianet.data.manifest import load_manifest
from gianet.data.tensors import frame_to_network, preview_input
from gianet.evaluation.evaluate import evaluate_variant
from gianet.evaluation.metrics import psnr
from gianet.fetch.weights import WEIGHTS
from gianet.models import build_model
from gianet.models.checkpoint import load_model, save_checkpoint
from gianet.settings.sections import Train
from gianet.training.recipe import Recipe, readings
from gianet.variants import get_variant
from tests.conftest import REPO, checkpoint_meta, repo_params, runtime, write_packed_cache

QUIET = runtime(progress=False)
#: The test protocol of the evaluations (SID's three misaligned Sony scenes left out).
TEST = Selection(exposures="all", exclude_scenes=[10034, 10045, 10172])
#: The recipe of the fixture's checkpoint: SID-Net under the paper's training settings.
PAPER_TRAIN = Train.model_validate(repo_params(REPO / "configs" / "paper.yaml").train.model_dump())
TRAINED = Recipe.for_variant(get_variant("sid_net"), PAPER_TRAIN, 0)


def evaluate(trained, folder, **changes):
    """evaluate_variant on the fixture, writing as the workflow lays out its files."""
    arguments = {
        "csv_path": folder / "metrics.csv",
        "summary_path": folder / "summary.json",
        "samples_dir": folder / "samples",
        "dataset": "sid-synth",
        "metrics": ["psnr", "ssim"],
        "lpips_backbone": "alex",
        "samples": 2,
        "torch_home": folder / "empty",
        "runtime": QUIET,
    }
    cache = trained / "cache"
    return evaluate_variant(
        trained / "model.pt", cache, load_manifest(cache), TEST, **(arguments | changes)
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A cache with two test frames and a SID-Net checkpoint for it."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(0)
    tests = []
    for scene in (10001, 10002):
        packed = rng.integers(0, 200, size=(4, 40, 52)).astype(np.uint16)
        gt = rng.integers(0, 65535, size=(3, 80, 104)).astype(np.uint16)
        tests.append((packed, gt, f"{scene}_00_0.1s.dng", f"{scene}_00_10s.dng"))
    write_packed_cache(folder / "cache", {"test": tests})
    manifest = folder / "cache" / "manifest.json"
    packed = {"protocol": {"levels": "sid"}}
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | packed))
    torch.manual_seed(0)
    model = build_model("unet", in_channels=4, upscale=2)
    meta = checkpoint_meta(arch_args={}, recipe=TRAINED.model_dump_json())
    save_checkpoint(folder / "model.pt", model, meta)
    return folder


def test_offline_perceptual_metrics_are_unavailable_and_the_rest_completes(trained, tmp_path):
    summary = evaluate(
        trained,
        tmp_path / "out",
        metrics=["psnr", "ssim", "lpips", "pieapp"],
        torch_home=tmp_path / "empty",
    )
    rows = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert list(rows["file"]) == ["10001_00_0.1s.dng", "10002_00_0.1s.dng"]
    assert {"psnr", "ssim", "ratio", "iso", "seconds"} <= set(rows.columns)
    assert "lpips" not in rows.columns
    assert summary["lpips"] is None and summary["pieapp"] is None
    assert "alexnet-owt-7be5be79.pth" in summary["unavailable"]["lpips"]
    assert str(tmp_path / "empty") in summary["unavailable"]["pieapp"]
    # The PSNR is the network's own output against the ground truth, frame by frame.
    model, _ = load_model(trained / "model.pt")
    frame = FullFrames(PackedPairs(trained / "cache", "test", 1.0))[0]
    inputs, target = frame_to_network(frame, torch.device("cpu"), max_input=1.0)
    with torch.no_grad():
        expected = psnr(model(inputs[None]).clamp(0, 1), target[None]).item()
    assert rows["psnr"][0] == pytest.approx(expected, rel=1e-5)
    # Beside it, the baseline every figure tile prints: the input brightened by its ratio.
    brightened = psnr(preview_input(inputs, "bayer")[None], target[None]).item()
    assert rows["input_psnr"][0] == pytest.approx(brightened, rel=1e-5)
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved["psnr"] == pytest.approx(rows["psnr"].mean())
    assert saved["input_psnr"] == pytest.approx(rows["input_psnr"].mean())
    assert (tmp_path / "out" / "samples" / "10001_00_0.1s_output.png").exists()
    assert list(rows["shot"]) == [0, 0] and list(rows["scene"]) == [10001, 10002]
    # What the numbers follow: the test protocol, pack's levels, the backbone, the readings.
    assert saved["protocol"] == {
        "test_exposures": "all",
        "exclude_scenes": [10034, 10045, 10172],
        "levels": "sid",
        "lpips_backbone": "alex",
        "loss": "l1",
        "training": readings(TRAINED),
    }
    assert saved["seed"] == 0


def test_the_vgg_backbone_is_asked_for_and_reported(trained, tmp_path):
    summary = evaluate(
        trained,
        tmp_path / "out",
        dataset="sid",
        metrics=["psnr", "lpips"],
        samples=0,
        lpips_backbone="vgg",
    )
    assert "vgg16-397923af.pth" in summary["unavailable"]["lpips"]
    assert "download.pytorch.org/models/vgg16-397923af.pth" in summary["unavailable"]["lpips"]
    assert summary["protocol"]["lpips_backbone"] == "vgg"


def test_lpips_is_computed_when_its_weights_are_in_the_cache(trained, tmp_path):
    home = tmp_path / "torch"
    backbone = WEIGHTS["alexnet"].path(home)
    backbone.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), backbone)
    summary = evaluate(
        trained, tmp_path / "out", metrics=["psnr", "lpips"], torch_home=home, samples=0
    )
    rows = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert rows["lpips"].notna().all() and (rows["lpips"] > 0).all()
    assert summary["unavailable"] == {} and summary["ssim"] is None

"""LPIPS and PieAPP from a local weights cache: missing weights, no downloads, piq/lpips parity.

Every weights file is made by the tests (random networks saved under the real file names in a
temporary TORCH_HOME), so nothing is downloaded; the reference implementations (lpips's own
pretrained-backbone path, ``piq.PieAPP``) load the same files from the same cache.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import lpips
import piq
import pytest
import torch
import torchvision
from piq.pieapp import PieAPPModel
from torchvision.models.vgg import cfgs, make_layers

from gianet.evaluation import perceptual
from gianet.evaluation.perceptual import PIEAPP_CHUNK, LPIPSMetric, PieAPPMetric
from gianet.fetch.weights import WEIGHTS, MissingWeights, require_weights, weights_status


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Other jobs share the machine's two cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TORCH_HOME holding random AlexNet, VGG-16 and PieAPP weights in the published
    formats (VGG-16's without its classifier, 500 MB that LPIPS never reads)."""
    home = tmp_path_factory.mktemp("torch_home")
    torch.manual_seed(0)
    alexnet = WEIGHTS["alexnet"].path(home)
    alexnet.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), alexnet)
    features = make_layers(cfgs["D"])  # torchvision's vgg16().features
    vgg = {f"features.{key}": value for key, value in features.state_dict().items()}
    torch.save(vgg, WEIGHTS["vgg16"].path(home))
    state = PieAPPModel().state_dict()
    # The release stores this weight with shape (1,); both loaders reshape it to (1, 1).
    state["ref_score_subtract.weight"] = state["ref_score_subtract.weight"].squeeze(1)
    # Trained patch weights are positive; a positive bias keeps the random ones so too, so
    # the weighted mean of patch scores is well conditioned.
    state["fc2_weight.bias"].fill_(1.0)
    torch.save(state, WEIGHTS["pieapp"].path(home))
    return home


def refuse_network(*args: object, **kwargs: object) -> None:
    """Stands in for every way to reach the network."""
    raise AssertionError(f"network access attempted: {args}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, weights_home: Path) -> Path:
    """Any socket connection or torch.hub download fails; TORCH_HOME is ``weights_home``."""
    monkeypatch.setattr(socket.socket, "connect", refuse_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse_network)
    monkeypatch.setattr(urllib.request, "urlopen", refuse_network)
    monkeypatch.setenv("TORCH_HOME", str(weights_home))
    return weights_home


def image_pair(seed: int, height: int, width: int, noise: float = 0.1):
    """Two ``(2, 3, height, width)`` batches in [0, 1]: random images and a noisy copy."""
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, height, width, generator=generator)
    noisy = target + noise * torch.randn(target.shape, generator=generator)
    return noisy.clamp(0, 1), target


def vgg_lpips(tmp_path: Path) -> LPIPSMetric:
    return LPIPSMetric(tmp_path, "cpu", "vgg")


def test_empty_cache_names_each_missing_file_its_path_and_url(tmp_path: Path) -> None:
    assert weights_status(tmp_path) == {"alexnet": None, "vgg16": None, "pieapp": None}
    alex = lambda home: LPIPSMetric(home, "cpu", "alex")  # noqa: E731
    for metric, name in ((alex, "alexnet"), (vgg_lpips, "vgg16"), (PieAPPMetric, "pieapp")):
        with pytest.raises(MissingWeights) as caught:
            metric(tmp_path)
        spec = WEIGHTS[name]
        assert caught.value.names == (name,)
        assert str(spec.path(tmp_path)) in str(caught.value)
        assert spec.url in str(caught.value)
    with pytest.raises(MissingWeights) as caught:
        require_weights(tmp_path, WEIGHTS)
    assert caught.value.names == ("alexnet", "vgg16", "pieapp")
    assert all(spec.url in str(caught.value) for spec in WEIGHTS.values())


def test_only_absent_files_are_reported(tmp_path: Path) -> None:
    present = WEIGHTS["pieapp"].path(tmp_path)
    present.parent.mkdir(parents=True)
    present.write_bytes(b"")

    assert weights_status(tmp_path) == {"alexnet": None, "vgg16": None, "pieapp": present}
    with pytest.raises(MissingWeights) as caught:
        LPIPSMetric(tmp_path, "cpu", "alex")
    assert caught.value.names == ("alexnet",)
    assert str(present) not in str(caught.value)
    with pytest.raises(ValueError, match="unknown weights"):
        require_weights(tmp_path, ["vgg"])


def test_lpips_matches_lpips_own_pretrained_path_without_network(no_network: Path) -> None:
    metric = LPIPSMetric(no_network, "cpu", "alex")
    # lpips's own path: torchvision finds alexnet-owt-7be5be79.pth in $TORCH_HOME's cache.
    reference = lpips.LPIPS(net="alex", version="0.1", verbose=False)
    pred, target = image_pair(seed=1, height=70, width=90)

    values = metric(pred, target, reduction="none")

    expected = reference(pred, target, normalize=True).flatten().double()
    assert values.dtype == torch.float64 and values.shape == (2,)
    torch.testing.assert_close(values, expected, rtol=1e-6, atol=1e-9)
    assert (values > 0).all()
    torch.testing.assert_close(metric(target, pred, reduction="none"), values)
    torch.testing.assert_close(metric(pred, target), values.mean())


@pytest.fixture(scope="module")
def vgg_metric(weights_home: Path) -> LPIPSMetric:
    return LPIPSMetric(weights_home, "cpu", "vgg")


def test_vgg_lpips_is_lpips_forward_on_the_cached_backbone(
    no_network: Path, vgg_metric: LPIPSMetric, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paper's backbone: lpips's VGG-16 model, its linear heads from the package and
    torchvision's features from the cache, measured as ``lpips.LPIPS.forward`` measures."""
    reference = lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False)
    reference.net.load_state_dict(vgg_metric.model.net.state_dict())
    heads_file = Path(lpips.__file__).parent / "weights/v0.1/vgg.pth"
    heads = torch.load(heads_file, map_location="cpu", weights_only=True)
    assert all(torch.equal(v, vgg_metric.model.state_dict()[k]) for k, v in heads.items())
    pred, target = image_pair(seed=5, height=40, width=52)
    expected = reference(pred, target, normalize=True).flatten().double()
    values = vgg_metric(pred, target, reduction="none")
    torch.testing.assert_close(values, expected, rtol=1e-6, atol=1e-9)
    assert (values > 0).all()
    monkeypatch.setattr(perceptual, "LPIPS_CHUNK_VALUES", 64 * 52)  # one row per chunk
    torch.testing.assert_close(vgg_metric(pred, target, reduction="none"), values)
    with pytest.raises(ValueError, match="at least 16"):
        vgg_metric(pred[..., :15, :], target[..., :15, :])
    assert vgg_metric(pred[..., :16, :16], target[..., :16, :16]).item() > 0
    with pytest.raises(ValueError, match="backbone must be alex or vgg"):
        LPIPSMetric(no_network, "cpu", "squeeze")


def test_lpips_of_identical_images_is_zero_and_grows_with_noise(no_network: Path) -> None:
    metric = LPIPSMetric(no_network, "cpu", "alex")
    slightly, target = image_pair(seed=2, height=64, width=64, noise=0.02)
    strongly, _ = image_pair(seed=2, height=64, width=64, noise=0.3)

    assert metric(target, target, reduction="sum").item() == 0.0
    assert (metric(strongly, target, "none") > metric(slightly, target, "none")).all()


def test_lpips_refuses_what_it_cannot_measure(no_network: Path) -> None:
    metric = LPIPSMetric(no_network, "cpu", "alex")
    image = torch.rand(1, 3, 40, 40)
    with pytest.raises(ValueError, match=r"\[0, 1\.0\]"):
        metric(image * 2, image)
    with pytest.raises(ValueError, match="RGB"):
        metric(image[:, :1], image[:, :1])
    with pytest.raises(ValueError, match="at least 31"):
        metric(image[..., :30], image[..., :30])


@pytest.fixture(scope="module")
def pieapp_case(weights_home: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two image pairs of 2 x 3 patches each and ``piq.PieAPP``'s values for them."""
    pred, target = image_pair(seed=3, height=91, width=118)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.hub, "download_url_to_file", refuse_network)
        patch.setenv("TORCH_HOME", str(weights_home))  # piq reads PieAPPv0.1.pth from there
        expected = piq.PieAPP(reduction="none")(pred, target).double()
    return pred, target, expected


@pytest.mark.parametrize("chunk", [1, 4, PIEAPP_CHUNK])
def test_chunked_pieapp_equals_piq_without_network(
    no_network: Path, pieapp_case: tuple[torch.Tensor, ...], chunk: int
) -> None:
    pred, target, expected = pieapp_case

    values = PieAPPMetric(no_network, chunk=chunk)(pred, target, reduction="none")

    assert values.dtype == torch.float64 and values.shape == (2,)
    torch.testing.assert_close(values, expected, rtol=1e-5, atol=1e-6)


def test_pieapp_depends_on_every_patch(no_network: Path) -> None:
    metric = PieAPPMetric(no_network, chunk=4)
    pred, target = (images[:1] for images in image_pair(seed=4, height=91, width=118))
    changed = pred.clone()
    changed[..., -20:, -20:] = 1.0 - changed[..., -20:, -20:]  # only the last patch sees it

    assert metric(changed, target).item() != metric(pred, target).item()

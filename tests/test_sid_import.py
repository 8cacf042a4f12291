"""Importing SID's released TensorFlow weights (gianet.models.sid_import).

Without the real weights: checkpoints in SID's TF1 format with SID's variable names and
shapes at reduced widths, from two sources: tests/data/sid_tf1 (written by TensorFlow from
SID's graph, with TensorFlow's output on a fixed input; see make_checkpoints.py there) and
tests/tf_bundle_writer.py (random weights written here). The reference is a NumPy
transcription of SID's TensorFlow graph (``network`` of train_Sony.py / train_Fuji.py),
itself checked against TensorFlow's recorded output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from gianet.atomic import OutputPathError
from gianet.data.lists import Selection
from gianet.data.manifest import load_manifest
from gianet.domain.cameras import CAMERAS
from gianet.evaluation.evaluate import evaluate_variant
from gianet.evaluation.metrics import psnr
from gianet.fetch.tf_checkpoint import TFCheckpoint
from gianet.models import sid_import
from gianet.models.checkpoint import REQUIRED_KEYS, load_model
from gianet.models.sid_import import (
    IMPORTED_FROM,
    SIDImportError,
    import_sid_checkpoint,
    write_imported_checkpoint,
)
from gianet.training.recipe import sid_released_recipe
from tests.conftest import runtime, write_packed_cache
from tests.tf_bundle_writer import write_checkpoint

SID_TF1 = Path(__file__).parent / "data" / "sid_tf1"

# --- SID's graph in NumPy (NHWC, as TensorFlow) ------------------------------------------


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding (before, after) for one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d_same(x: np.ndarray, weights: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """``tf.nn.conv2d(x, weights, [1, 1, 1, 1], 'SAME') + biases``; weights HWIO."""
    kh, kw = weights.shape[:2]
    (top, bottom), (left, right) = (
        _same_padding(x.shape[1], kh, 1),
        _same_padding(x.shape[2], kw, 1),
    )
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out = np.zeros((*x.shape[:3], weights.shape[3]), np.float64)
    for dy in range(kh):
        for dx in range(kw):
            window = padded[:, dy : dy + x.shape[1], dx : dx + x.shape[2], :]
            out += window @ weights[dy, dx]
    return out + biases


def lrelu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x * 0.2, x)


def max_pool_same(x: np.ndarray) -> np.ndarray:
    """``slim.max_pool2d(x, [2, 2], padding='SAME')`` (stride 2; padding never wins)."""
    (top, bottom), (left, right) = _same_padding(x.shape[1], 2, 2), _same_padding(x.shape[2], 2, 2)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
    n, h, w, c = padded.shape
    return padded.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def conv2d_transpose_same(x: np.ndarray, kernel: np.ndarray, shape: tuple) -> np.ndarray:
    """``tf.nn.conv2d_transpose(x, kernel, shape, [1, 2, 2, 1])`` ('SAME'): the adjoint of a
    stride-2 'SAME' correlation of an input of ``shape``; kernel ``[2, 2, out, in]``."""
    n, height, width, channels = shape
    (top, bottom), (left, right) = _same_padding(height, 2, 2), _same_padding(width, 2, 2)
    full = np.zeros((n, height + top + bottom, width + left + right, channels), np.float64)
    for dy in range(2):
        for dx in range(2):
            rows = slice(dy, dy + 2 * x.shape[1], 2)
            cols = slice(dx, dx + 2 * x.shape[2], 2)
            full[:, rows, cols, :] += x @ kernel[dy, dx].T
    return full[:, top : top + height, left : left + width, :]


def depth_to_space(x: np.ndarray, block: int) -> np.ndarray:
    """``tf.depth_to_space``: output (y*r + dy, x*r + dx, c) from channel (dy*r + dx)*C + c."""
    n, h, w, c = x.shape
    depth = c // block**2
    out = x.reshape(n, h, w, block, block, depth).transpose(0, 1, 3, 2, 4, 5)
    return out.reshape(n, h * block, w * block, depth)


def sid_network(v: dict[str, np.ndarray], x: np.ndarray, block: int) -> np.ndarray:
    """``network`` of train_Sony.py / train_Fuji.py, layer by layer."""

    def conv(scope, inputs, activation=lrelu):
        out = conv2d_same(inputs, v[f"{scope}/weights"], v[f"{scope}/biases"])
        return activation(out) if activation else out

    def upsample_and_concat(x1, x2, variable):
        return np.concatenate([conv2d_transpose_same(x1, v[variable], x2.shape), x2], axis=3)

    conv1 = conv("g_conv1_2", conv("g_conv1_1", x))
    conv2 = conv("g_conv2_2", conv("g_conv2_1", max_pool_same(conv1)))
    conv3 = conv("g_conv3_2", conv("g_conv3_1", max_pool_same(conv2)))
    conv4 = conv("g_conv4_2", conv("g_conv4_1", max_pool_same(conv3)))
    conv5 = conv("g_conv5_2", conv("g_conv5_1", max_pool_same(conv4)))
    conv6 = conv("g_conv6_2", conv("g_conv6_1", upsample_and_concat(conv5, conv4, "Variable")))
    conv7 = conv("g_conv7_2", conv("g_conv7_1", upsample_and_concat(conv6, conv3, "Variable_1")))
    conv8 = conv("g_conv8_2", conv("g_conv8_1", upsample_and_concat(conv7, conv2, "Variable_2")))
    conv9 = conv("g_conv9_2", conv("g_conv9_1", upsample_and_concat(conv8, conv1, "Variable_3")))
    return depth_to_space(conv("g_conv10", conv9, activation=None), block)


def sid_shapes(channels: int, base: int, block: int) -> dict[str, tuple[int, ...]]:
    """SID's variables and their TensorFlow shapes, read off ``network``."""
    w = [base, 2 * base, 4 * base, 8 * base, 16 * base]
    convs = {"g_conv1": (channels, w[0]), "g_conv2": (w[0], w[1]), "g_conv3": (w[1], w[2])}
    convs |= {"g_conv4": (w[2], w[3]), "g_conv5": (w[3], w[4]), "g_conv6": (w[4], w[3])}
    convs |= {"g_conv7": (w[3], w[2]), "g_conv8": (w[2], w[1]), "g_conv9": (w[1], w[0])}
    shapes = {}
    for scope, (into, out) in convs.items():
        shapes[f"{scope}_1/weights"] = (3, 3, into, out)
        shapes[f"{scope}_2/weights"] = (3, 3, out, out)
        shapes[f"{scope}_1/biases"] = shapes[f"{scope}_2/biases"] = (out,)
    ups = {"Variable": (w[3], w[4]), "Variable_1": (w[2], w[3])}
    ups |= {"Variable_2": (w[1], w[2]), "Variable_3": (w[0], w[1])}
    for name, (out, into) in ups.items():
        shapes[name] = (2, 2, out, into)
    shapes["g_conv10/weights"] = (1, 1, w[0], 3 * block**2)
    shapes["g_conv10/biases"] = (3 * block**2,)
    return shapes


def random_sid_checkpoint(prefix: Path, camera: str, base: int, seed: int = 0) -> dict:
    """SID's variables with random values (He-scaled, biases non-zero), plus Adam's state
    as tf.train.Saver() writes it; returns the network's variables."""
    rng = np.random.default_rng(seed)
    spec = CAMERAS[camera]
    variables = {}
    for name, shape in sid_shapes(spec.channels, base, spec.upscale).items():
        fan_in = int(np.prod(shape[:-1])) if len(shape) == 4 else 1
        spread = np.sqrt(2.0 / fan_in) if len(shape) == 4 else 0.1
        variables[name] = (rng.normal(size=shape) * spread).astype(np.float32)
    state = {f"{n}/Adam": np.zeros_like(a) for n, a in variables.items()}
    state |= {f"{n}/Adam_1": np.ones_like(a) for n, a in variables.items()}
    state |= {"beta1_power": np.array(0.9, np.float32), "beta2_power": np.array(0.999, np.float32)}
    write_checkpoint(prefix, variables | state, block_size=1024)
    return variables


def gianet_output(checkpoint: dict, x_nhwc: np.ndarray) -> np.ndarray:
    model = sid_import.build_model(
        checkpoint["arch"],
        in_channels=checkpoint["in_channels"],
        upscale=checkpoint["upscale"],
        **checkpoint["arch_args"],
    )
    model.load_state_dict(checkpoint["state_dict"])
    with torch.no_grad():
        out = model.eval()(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2))
    return out.permute(0, 2, 3, 1).numpy()


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-6 * max(scale, 1.0))


# --- TensorFlow's own checkpoints and outputs ----------------------------------------------


@pytest.mark.parametrize("camera", ["Sony", "Fuji"])
def test_numpy_graph_is_tensorflows(camera):
    """The transcription reproduces TensorFlow's recorded output, so it can stand in for it."""
    reference = np.load(SID_TF1 / camera / "reference.npz")
    checkpoint = TFCheckpoint(SID_TF1 / camera / "model.ckpt")
    variables = {name: checkpoint.read(name) for name in sid_shapes(1, 1, 1)}
    expected = sid_network(variables, reference["input"], CAMERAS[camera].upscale)
    _close(expected.astype(np.float32), reference["output"])


@pytest.mark.parametrize("camera", ["Sony", "Fuji"])
def test_import_gives_tensorflows_output(camera):
    reference = np.load(SID_TF1 / camera / "reference.npz")
    imported = import_sid_checkpoint(SID_TF1 / camera / "model.ckpt", camera)
    assert imported["arch_args"] == {"base_channels": 2}
    _close(gianet_output(imported, reference["input"]), reference["output"])


# --- Written here: Bayer and X-Trans at other widths ---------------------------------------


@pytest.mark.parametrize(
    ("camera", "base", "size"),
    [("Sony", 3, (21, 18)), ("Fuji", 2, (17, 23))],
    ids=["bayer-4to12-x2", "xtrans-9to27-x3"],
)
def test_import_equals_sids_graph(tmp_path, camera, base, size):
    spec = CAMERAS[camera]
    variables = random_sid_checkpoint(tmp_path / "model.ckpt", camera, base)
    x = np.random.default_rng(5).uniform(0, 1, (2, *size, spec.channels)).astype(np.float32)
    imported = import_sid_checkpoint(tmp_path / "model.ckpt", camera)
    assert (imported["in_channels"], imported["upscale"]) == (spec.channels, spec.upscale)
    assert imported["state_dict"]["head.conv.weight"].shape == (3 * spec.upscale**2, base, 1, 1)
    expected = sid_network(variables, x, spec.upscale)
    assert expected.shape == (2, size[0] * spec.upscale, size[1] * spec.upscale, 3)
    _close(gianet_output(imported, x), expected)


def test_a_wrong_head_order_would_be_caught(tmp_path, monkeypatch):
    """The comparison sees the depth_to_space / pixel_shuffle order: without the reordering
    the import no longer matches SID's graph."""
    variables = random_sid_checkpoint(tmp_path / "model.ckpt", "Fuji", 2)
    x = np.random.default_rng(6).uniform(0, 1, (1, 9, 10, 9)).astype(np.float32)
    monkeypatch.setattr(sid_import, "head_channel_order", lambda upscale: list(range(27)))
    imported = import_sid_checkpoint(tmp_path / "model.ckpt", "Fuji")
    with pytest.raises(AssertionError):
        _close(gianet_output(imported, x), sid_network(variables, x, 3))


def test_written_checkpoint_is_gianets_with_provenance(tmp_path):
    random_sid_checkpoint(tmp_path / "sid" / "model.ckpt", "Sony", 2)
    out = tmp_path / "models" / "model.pt"
    written = write_imported_checkpoint(tmp_path / "sid", "Sony", out)
    model, checkpoint = load_model(out, cfa="bayer")  # what evaluate and enhance call
    assert set(REQUIRED_KEYS) <= set(checkpoint)
    assert (checkpoint["variant"], checkpoint["camera"], checkpoint["cfa"]) == (
        "sid_net",
        "Sony",
        "bayer",
    )
    provenance = checkpoint["provenance"]
    assert provenance["source"] == IMPORTED_FROM
    files = ["model.ckpt.index", "model.ckpt.data-00000-of-00001"]
    assert provenance["files"] == {
        name: hashlib.sha256((tmp_path / "sid" / name).read_bytes()).hexdigest() for name in files
    }
    assert (provenance["variables"], provenance["skipped"]) == (42, 2 * 42 + 2)
    for name, tensor in written["state_dict"].items():
        assert torch.equal(model.state_dict()[name], tensor)
    assert [p.name for p in out.parent.iterdir()] == ["model.pt"]  # no temporary left


# --- Checkpoints that do not fit: one line naming the variable and what was expected -------


def _rewritten(tmp_path: Path, change) -> Path:
    variables = random_sid_checkpoint(tmp_path / "good" / "model.ckpt", "Sony", 2)
    prefix = tmp_path / "bad" / "model.ckpt"
    write_checkpoint(prefix, change(dict(variables)))
    return prefix


def _renamed(old: str, new: str):
    return lambda v: {new if name == old else name: value for name, value in v.items()}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _renamed("g_conv3_2/weights", "g_conv3_2/kernel"),
            r"variable g_conv3_2/weights is missing; SID's network of width 2 expects "
            r"\[3, 3, 8, 8\] float32",
        ),
        (
            lambda v: v | {"g_conv6_1/weights": np.zeros((3, 3, 16, 16), np.float32)},
            r"variable g_conv6_1/weights has shape \[3, 3, 16, 16\]; SID's network of width 2 "
            r"expects \[3, 3, 32, 16\]",
        ),
        (
            lambda v: v | {"Variable_2": np.zeros((2, 2, 8, 4), np.float32)},
            r"variable Variable_2 has shape \[2, 2, 8, 4\]; .* expects \[2, 2, 4, 8\]",
        ),
        (
            lambda v: v | {"g_conv9_2/biases": v["g_conv9_2/biases"].astype(np.float64)},
            r"variable g_conv9_2/biases has TensorFlow type 2; .* as float32",
        ),
        (
            lambda v: v | {"Variable_4": np.zeros((2, 2, 2, 2), np.float32)},
            r"variable Variable_4 \[2, 2, 2, 2\] is not part of SID's network",
        ),
        (
            _renamed("g_conv1_1/weights", "conv1/weights"),
            r"variable g_conv1_1/weights is missing; SID's network has it as \[3, 3, channels",
        ),
    ],
    ids=["wrong-name", "wrong-shape", "transposed-filter", "wrong-dtype", "extra", "first"],
)
def test_names_or_shapes_that_do_not_fit(tmp_path, change, message):
    prefix = _rewritten(tmp_path, change)
    with pytest.raises(SIDImportError, match=message) as caught:
        import_sid_checkpoint(prefix, "Sony")
    text = str(caught.value)
    assert "\n" not in text and text.startswith(f"{prefix}: ")


def test_wrong_camera_or_unknown_camera(tmp_path):
    random_sid_checkpoint(tmp_path / "model.ckpt", "Sony", 2)
    with pytest.raises(SIDImportError, match=r"4-channel input and 12 output .* Fuji's xtrans"):
        import_sid_checkpoint(tmp_path / "model.ckpt", "Fuji")
    with pytest.raises(SIDImportError, match="camera 'Nikon' is not one of SID's; choose"):
        import_sid_checkpoint(tmp_path / "model.ckpt", "Nikon")


def test_nothing_written_when_the_import_fails(tmp_path):
    prefix = _rewritten(tmp_path, _renamed("Variable", "Variable_9"))
    out = tmp_path / "out" / "model.pt"
    with pytest.raises(SIDImportError, match="variable Variable is missing"):
        write_imported_checkpoint(prefix, "Sony", out)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_an_output_that_cannot_be_written_is_refused_first(tmp_path):
    out = tmp_path / "model.pt"
    out.mkdir()
    with pytest.raises(OutputPathError, match="is a folder"):
        write_imported_checkpoint(tmp_path / "no-such-checkpoint", "Sony", out)


def test_gianet_evaluate_scores_the_imported_weights(tmp_path):
    """evaluate reads the imported checkpoint as any trained SID-Net: its PSNR is the
    network's on the frame, and its summary says SID-Net on Sony, trained with L1."""
    rng = np.random.default_rng(3)
    packed = rng.integers(0, 400, size=(4, 24, 30)).astype(np.uint16)
    truth = rng.integers(0, 65535, size=(3, 48, 60)).astype(np.uint16)
    write_packed_cache(
        tmp_path / "cache", {"test": [(packed, truth, "10003_00_0.1s.dng", "10003_00_10s.dng")]}
    )
    recipe = {"recipe": sid_released_recipe(2).model_dump_json()}
    written = write_imported_checkpoint(SID_TF1 / "Sony", "Sony", tmp_path / "model.pt", recipe)
    summary = evaluate_variant(
        tmp_path / "model.pt",
        tmp_path / "cache",
        load_manifest(tmp_path / "cache"),
        Selection(exposures="all", exclude_scenes=[]),
        csv_path=tmp_path / "metrics.csv",
        summary_path=tmp_path / "summary.json",
        samples_dir=tmp_path / "samples",
        dataset="test",
        metrics=["psnr", "ssim"],
        lpips_backbone="alex",
        samples=0,
        torch_home=tmp_path / "torch",
        runtime=runtime(progress=False),
    )
    assert (summary["camera"], summary["variant"], summary["n_images"]) == ("Sony", "sid_net", 1)
    assert summary["protocol"]["loss"] == "l1"
    inputs = np.minimum(packed / 15871.0 * 100, 1.0).astype(np.float32)  # ratio 10 s / 0.1 s
    output = gianet_output(written, inputs.transpose(1, 2, 0)[None]).clip(0, 1)
    expected = psnr(
        torch.from_numpy(output).permute(0, 3, 1, 2),
        torch.from_numpy(truth / 65535.0)[None].float(),
    )
    assert summary["psnr"] == pytest.approx(float(expected), abs=1e-4)

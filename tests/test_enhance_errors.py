"""`gianet enhance` refuses, in one line and before any work, what would fail or mislead:
missing raws, non-checkpoints or ones that record no training recipe, a device that cannot
be, tiles with a tiny core, outputs that cannot be written, and a network output that is not
finite."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from gianet.cli import main
from gianet.models import build_model
from gianet.models.checkpoint import save_checkpoint
from gianet.synth.generate import generate_dataset
from tests.conftest import SMALL_CHECKPOINT_META

META = SMALL_CHECKPOINT_META


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A real sid-synth Sony DNG, a small checkpoint, one with NaN weights, and non-checkpoints."""
    folder = tmp_path_factory.mktemp("enhance-errors")
    generate_dataset(folder, "Sony", scenes={"test": 1}, height=96, width=96, ratios=(100,),
                     shorts_per_scene=1, seed=0, progress=False)  # fmt: skip
    model = build_model("unet", in_channels=4, upscale=2, base_channels=4)
    save_checkpoint(folder / "model.pt", model, META)
    without_recipe = {key: value for key, value in META.items() if key != "recipe"}
    save_checkpoint(folder / "foreign.pt", model, without_recipe)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    save_checkpoint(folder / "nan.pt", model, META)
    (folder / "notes.txt").write_text("not a checkpoint")
    data = (folder / "model.pt").read_bytes()
    (folder / "cut.pt").write_bytes(data[: len(data) // 2])
    (folder / "code.pt").write_bytes(pickle.dumps(zipfile.ZipFile))  # a global: code on load
    return {"raw": next((folder / "Sony" / "short").glob("*.dng")), "folder": folder}


def enhance(capsys, files, *extra: str, raw: str | None = None, checkpoint: str = "model.pt"):
    folder = files["folder"]
    argv = ["enhance", raw or str(files["raw"]), "--checkpoint", str(folder / checkpoint)]
    code = main([*argv, *extra])
    return code, capsys.readouterr().err


def test_a_good_request_writes_the_image(capsys, files, tmp_path):
    code, _ = enhance(capsys, files, "--ratio", "100", "--out", str(tmp_path / "o.png"))
    assert code == 0 and (tmp_path / "o.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("extra", "checkpoint", "message"),
    [
        ([], "foreign.pt", "records no training recipe, so its input clip (train.max_input)"),
        (["--tile", "208"], "model.pt", "window of 208 keeps a core of 16"),
        (["--device", "gpu7"], "model.pt", "--device 'gpu7' is not a torch device"),
        (["--device", "cuda:99"], "model.pt", "usable CUDA device(s)"),
        ([], "nan.pt", "the network's output is not finite at 100.0% of its values"),
        ([], "notes.txt", "not a checkpoint (a torch file starts as a zip archive or a pickle"),
        ([], "cut.pt", "not a readable checkpoint, perhaps truncated or damaged"),
        ([], "code.pt", "refused: the file holds more than weights (it would run code"),
        ([], "absent.pt", "no such checkpoint"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    capsys, files, tmp_path, extra, checkpoint, message
):
    out = tmp_path / "o.png"
    code, stderr = enhance(capsys, files, "--ratio", "100", "--out", str(out), *extra,
                           checkpoint=checkpoint)  # fmt: skip
    assert code == 2 and message in stderr and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_for_without_cuda_is_one_line(capsys, files, tmp_path):
    code, stderr = enhance(capsys, files, "--ratio", "100", "--out", str(tmp_path / "o.png"),
                           "--device", "cuda")  # fmt: skip
    assert code == 2 and "this machine has 0 usable CUDA device(s); use cpu" in stderr


def test_a_raw_path_that_does_not_exist_is_reported_missing(capsys, files, tmp_path):
    code, stderr = enhance(capsys, files, "--ratio", "100", "--out", str(tmp_path / "o.png"),
                           raw=str(tmp_path / "absent.ARW"))  # fmt: skip
    assert code == 2 and "absent.ARW: no such raw file" in stderr
    assert "truncated" not in stderr
    code, stderr = enhance(capsys, files, "--ratio", "100", "--out", str(tmp_path / "o.png"),
                           raw=str(tmp_path))  # fmt: skip
    assert code == 2 and "is a folder; give one raw file" in stderr


def test_an_output_that_is_a_folder_is_refused(capsys, files, tmp_path):
    (tmp_path / "o.png").mkdir()
    code, stderr = enhance(capsys, files, "--ratio", "100", "--out", str(tmp_path / "o.png"))
    assert code == 2 and "o.png: is a folder" in stderr and stderr.count("\n") == 1

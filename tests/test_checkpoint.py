import pickle

import pytest
import torch

from gianet.models import build_model
from gianet.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

META = {
    "arch": "unet",
    "arch_args": {"gia": True},
    "in_channels": 4,
    "upscale": 2,
    "cfa": "bayer",
    "camera": "Sony",
    "variant": "gia_net",
}


class Exploit:
    def __reduce__(self):
        return (print, ("this would have run",))


def test_round_trip_with_weights_only(tmp_path):
    model = build_model("unet", in_channels=4, upscale=2, gia=True)
    save_checkpoint(tmp_path / "model.pt", model, META)
    loaded = load_checkpoint(tmp_path / "model.pt")
    assert loaded["cfa"] == "bayer" and loaded["arch_args"] == {"gia": True}
    assert all(torch.equal(loaded["state_dict"][k], v) for k, v in model.state_dict().items())
    assert not (tmp_path / "model.pt.partial").exists()


def test_truncated_checkpoint_is_refused(tmp_path):
    model = build_model("unet", in_channels=4, upscale=2)
    save_checkpoint(tmp_path / "model.pt", model, META)
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")


def test_pickle_with_code_is_refused_without_running_it(tmp_path, capsys):
    torch.save({"state_dict": {}, "payload": Exploit(), **META}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt: refused"):
        load_checkpoint(tmp_path / "evil.pt")
    assert "this would have run" not in capsys.readouterr().out
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "raw.pkl")


def test_foreign_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a gianet checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")

"""Every class of result is written atomically: a failed write leaves the previous good file.

Two failures are simulated for each class, through the real writing function of that class:
the disk filling up half-way through the write, and the final rename being refused. Either
way the earlier file keeps its bytes and no temporary file is left behind.
"""

from __future__ import annotations

import errno
import io
import json
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gianet import atomic
from gianet.fetch.checksums import record_sha256
from gianet.fetch.sid import install_split_lists
from gianet.fetch.weights import WEIGHTS, write_status
from gianet.inference.image16 import write_rgb16
from gianet.models import build_model
from gianet.models.checkpoint import load_checkpoint, save_checkpoint, save_training_state
from gianet.report import costs as report_costs
from gianet.report.cost_table import cost_table
from gianet.report.curves import plot_curves
from gianet.report.figures import ImageRow, Tile, plot_grid
from gianet.report.render_latex import render_table
from gianet.synth.dng import RawMetadata, write_dng
from tests.conftest import SMALL_CHECKPOINT_META

META = SMALL_CHECKPOINT_META


class FullDisk(io.FileIO):
    """A file on a disk that fills up after 20 bytes."""

    def write(self, data) -> int:
        room = 20 - self.tell()
        if len(data) > room:
            super().write(bytes(data)[: max(room, 0)])
            raise OSError(errno.ENOSPC, "No space left on device", self.name)
        return super().write(data)


def fill_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file gianet.atomic opens from now on is on a full disk."""
    opened = io.open

    def full_open(path, mode="r", **options):
        if "x" not in mode:
            return opened(path, mode, **options)
        raw = FullDisk(path, "x")
        return raw if "b" in mode else io.TextIOWrapper(raw, **options)

    monkeypatch.setattr(atomic, "open", full_open, raising=False)


def refuse_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    """The final rename of every atomic write fails (as on a read-only remount)."""

    def refused(source, target):
        raise OSError(errno.EROFS, "Read-only file system", str(target))

    monkeypatch.setattr(atomic.os, "replace", refused)


FAILURES = {"disk full mid-way": fill_disk, "rename refused": refuse_rename}


def _png8(path: Path, value: int) -> Path:
    return atomic.write_image(path, np.full((8, 8, 3), value, np.uint8))


def _figure(path: Path, value: int) -> Path:
    plot_grid([ImageRow("x", (Tile(np.full((8, 8, 3), value, np.uint8), "tile"),), ())], path)
    return path


def _checkpoint(path: Path, value: int) -> None:
    torch.manual_seed(value)
    save_checkpoint(path, build_model("unet", in_channels=4, upscale=2, base_channels=4), META)


def _training_state(path: Path, value: int) -> None:
    model = build_model("unet", in_channels=4, upscale=2, base_channels=4)
    optimizer = torch.optim.Adam(model.parameters())
    save_training_state(path, model, optimizer, value, META)


def _mosaic(path: Path, value: int) -> None:
    mosaic = np.full((12, 12), 600 + value, np.uint16)
    meta = RawMetadata(
        cfa_pattern=np.array([[0, 1], [1, 2]], np.uint8),
        black_level=512,
        white_level=16383,
        xyz_to_camera=np.eye(3),
        as_shot_neutral=np.ones(3),
        exposure_time=0.1,
        iso=100,
        f_number=4.0,
        model="gianet test",
    )
    write_dng(path, mosaic, meta)


def _status(path: Path, value: int) -> None:
    """The status of a torch cache holding one weights file (value 1), or none."""
    present = WEIGHTS["pieapp"].path(path.parent)
    if value == 1:
        present.parent.mkdir(parents=True, exist_ok=True)
        present.write_bytes(b"weights")
    write_status(path)
    present.unlink(missing_ok=True)


def _tables(path: Path, value: int) -> None:
    row = {"variant": "sid_net", "camera": "Sony", "params": value * 1e6, "flops": value * 1e9}
    table = cost_table([row | {"params_ratio": 1.0, "flops_ratio": 1.0}], "sid-synth")
    atomic.write_text(path, render_table(table))


def _costs(path: Path, value: int) -> None:
    rows = [{"variant": "sid_net", "camera": "Sony", "params": value, "flops": value}]
    original = report_costs.variant_costs
    report_costs.variant_costs = lambda cameras, kernel: rows  # the counting is tested elsewhere
    try:
        report_costs.write_costs(["Sony"], path)
    finally:
        report_costs.variant_costs = original


def _split_lists(path: Path, value: int) -> None:
    (path.parent / "Sony" / "short").mkdir(parents=True, exist_ok=True)
    install_split_lists(path.parent, "Sony")
    atomic.write_text(path, f"list {value}\n")  # the checked file: one of them, changed


#: Result class -> how gianet writes one (path, a value that changes the content).
WRITERS: dict[str, Callable[[Path, int], object]] = {
    "bytes (sid-synth files)": lambda path, v: atomic.write_bytes(path, bytes([v]) * 500),
    "sid-synth DNG": _mosaic,
    "split lists": _split_lists,
    "JSON (summaries, sidecars, headline)": lambda path, v: atomic.write_json(
        path, {"v": [v] * 30}
    ),
    "cache array": lambda path, v: atomic.save_npy(path, np.full((3, 20, 20), v, np.uint16)),
    "sample PNG": _png8,
    "metrics CSV": lambda path, v: atomic.write_text(
        path, pd.DataFrame({"psnr": [v] * 9}).to_csv(index=False, float_format="%.8g")
    ),
    "checkpoint": _checkpoint,
    "training state": _training_state,
    "checksum file": lambda path, v: record_sha256(path, f"{v:0200d}.zip", f"{v:064x}"),
    "weights status": _status,
    "figure": _figure,
    "curves figure": lambda path, v: plot_curves({}, path, f"run {v}" * 20),
    "tables": _tables,
    "costs": _costs,
    "enhance output (PNG)": lambda path, v: write_rgb16(path, np.full((9, 9, 3), v, np.uint16)),
    "enhance output (TIFF)": lambda path, v: write_rgb16(path, np.full((9, 9, 3), v, np.uint16)),
}
FILE_NAMES = {
    "sid-synth DNG": "x.dng",
    "split lists": "Sony_test_list.txt",
    "sample PNG": "x.png",
    "figure": "figure.png",
    "curves figure": "curves.png",
    "tables": "tables.tex",
    "enhance output (PNG)": "x.png",
    "enhance output (TIFF)": "x.tif",
    "weights status": "status.json",
}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.filterwarnings("ignore:No artists with labels")  # an empty curves figure
@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("kind", WRITERS)
def test_a_failed_write_leaves_the_previous_good_file(tmp_path, monkeypatch, kind, failure):
    write = WRITERS[kind]
    path = tmp_path / FILE_NAMES.get(kind, "result.bin")
    write(path, 1)
    before = snapshot(tmp_path)
    assert before

    with monkeypatch.context() as patch:
        FAILURES[failure](patch)
        with pytest.raises(OSError):
            write(path, 2)

    assert snapshot(tmp_path) == before  # nothing changed, no temporary file left
    write(path, 3)  # and the next write goes through
    assert snapshot(tmp_path)[path.name] != before[path.name]


def test_checkpoint_survives_a_failed_save(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    _checkpoint(path, 1)
    with monkeypatch.context() as patch:
        fill_disk(patch)
        with pytest.raises(OSError):
            _checkpoint(path, 2)
    assert load_checkpoint(path)["variant"] == "sid_net"


def test_files_get_the_usual_permissions_and_a_folder_target_is_refused(tmp_path):
    path = atomic.write_text(tmp_path / "a" / "b.txt", "x")
    assert stat.S_IMODE(path.stat().st_mode) == atomic.default_mode() != 0o600
    (tmp_path / "folder").mkdir()
    with pytest.raises(atomic.OutputPathError, match="folder.*is a folder") as raised:
        atomic.write_json(tmp_path / "folder", {})
    assert "\n" not in str(raised.value)
    assert json.loads(atomic.write_json(tmp_path / "c.json", [1]).read_text()) == [1]


@pytest.mark.parametrize(
    "array",
    [
        np.arange(4 * 7 * 9, dtype=np.uint16).reshape(4, 7, 9),
        np.zeros((0, 3), np.uint16),
        np.arange(12, dtype=np.uint16).reshape(3, 4)[:, ::2],
    ],
    ids=["packed", "empty", "strided"],
)
def test_save_npy_writes_the_bytes_np_save_writes(tmp_path, array):
    expected = io.BytesIO()
    np.save(expected, array, allow_pickle=False)
    atomic.save_npy(tmp_path / "a.npy", array)
    assert (tmp_path / "a.npy").read_bytes() == expected.getvalue()

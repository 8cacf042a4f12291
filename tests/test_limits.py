"""Limits of the machine and of the data: a file-size limit (EFBIG) is one line in every stage
that writes; a network whose output is NaN or infinite is refused by every stage that runs
one; thread and process counts are bounded by the CPUs a job may use; training crops larger
than the frames are refused at the stage."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from gianet.cli import main
from gianet.data.crops import CropsTooLarge, MultiSizeCrops
from gianet.data.dataset import PackedPairs, TrainPatches
from gianet.jobs import cpus
from gianet.jobs.device import Device
from gianet.models.checkpoint import load_model
from gianet.models.finite import NonFiniteOutput
from gianet.settings.sections import Runtime
from gianet.training.train import validate
from tests.conftest import file_size_limit
from tests.stage_inputs import (
    evaluate_argv,
    pack_argv,
    runtime_json,
    small_checkpoint,
    synth_argv,
    tiny_cache,
    train_argv,
)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return tiny_cache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A sid-synth Sony dataset of one scene per split, 96 x 96 raw pixels, with its lists and
    record, as ``gianet synth`` makes it."""
    root = tmp_path_factory.mktemp("data")
    scenes = {"train": 1, "val": 1, "test": 1}
    argv = synth_argv(root, height=96, width=96, scenes=scenes, ratios=[100],
                      shorts_per_scene=1, seed=0)  # fmt: skip
    assert main(argv) == 0
    return root


def run(argv: list[str], capsys, limit: int | None = None) -> tuple[int, str]:
    capsys.readouterr()
    with file_size_limit(limit) if limit else contextlib.nullcontext():
        code = main(argv)
    return code, capsys.readouterr().err


def one_line_error(code: int, error: str, stage: str) -> str:
    assert code == 2 and error.count("\n") == 1 and "Traceback" not in error, error
    assert error.startswith(f"gianet {stage}: error: ")
    return error


# A file-size limit (EFBIG): one line naming the limit and the fix, in every stage that writes.


def test_a_file_size_limit_stops_training_in_one_line(manifest, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code, error = run(train_argv(manifest, out), capsys, limit=64 << 10)
    error = one_line_error(code, error, "train")
    assert f"{out / 'model.pt'}: file too large" in error and "ulimit -f unlimited" in error
    assert not (out / "model.pt").exists()


def test_a_file_size_limit_is_noted_in_the_training_history(manifest, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code, error = run(train_argv(manifest, out), capsys, limit=64 << 10)
    assert code == 2 and "file too large" in error
    last = (out / "train_history.log").read_text().splitlines()[-1]
    assert "stopped: " in last and "file too large" in last


def test_a_file_size_limit_stops_evaluation_in_one_line(manifest, tmp_path, capsys) -> None:
    model = small_checkpoint(tmp_path / "model.pt")
    code, error = run(evaluate_argv(model, manifest, tmp_path / "out"), capsys, limit=2048)
    assert "file too large" in one_line_error(code, error, "evaluate")
    assert not (tmp_path / "out" / "summary.json").exists()


def test_a_file_size_limit_stops_enhance_in_one_line(dataset, tmp_path, capsys) -> None:
    model = small_checkpoint(tmp_path / "model.pt")
    raw = next((dataset / "Sony" / "short").glob("*.dng"))
    argv = ["enhance", str(raw), "--checkpoint", str(model), "--ratio", "100", "--out",
            str(tmp_path / "out.png")]  # fmt: skip
    code, error = run(argv, capsys, limit=4096)
    assert "file too large" in one_line_error(code, error, "enhance")
    assert not (tmp_path / "out.png").exists()


def test_a_file_size_limit_stops_packing_in_one_line(dataset, tmp_path, capsys) -> None:
    cache = tmp_path / "cache"
    code, error = run(pack_argv(dataset, cache / "manifest.json"), capsys, limit=4096)
    assert code == 2 and "Traceback" not in error and "file too large" in error, error
    assert "requested and" not in error and not (cache / "manifest.json").exists()


# A network whose output is NaN or infinite: refused by every stage that runs one.


@pytest.mark.parametrize("poison", [math.nan, math.inf, -math.inf])
def test_evaluation_refuses_a_network_whose_output_is_not_finite(
    manifest, tmp_path, capsys, poison
) -> None:
    model = small_checkpoint(tmp_path / "model.pt", poison)
    code, error = run(evaluate_argv(model, manifest, tmp_path / "out"), capsys)
    error = one_line_error(code, error, "evaluate")
    assert f"{model} on 20001_00_0.1s.dng: the network's output is not finite at 100.0%" in error
    assert "no metrics were written" in error and "Retrain" in error
    assert not (tmp_path / "out" / "metrics.csv").exists()
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize("poison", [math.nan, math.inf])
def test_validation_refuses_a_network_whose_output_is_not_finite(manifest, tmp_path, poison):
    model, _ = load_model(small_checkpoint(tmp_path / "model.pt", poison))
    pairs = PackedPairs(manifest.parent, "val", 1.0)
    with pytest.raises(NonFiniteOutput, match="validation on 20001_00_0.1s.dng: the network's"):
        validate(model, pairs, Device(torch.device("cpu")))
    healthy, _ = load_model(small_checkpoint(tmp_path / "healthy.pt"))
    assert math.isfinite(validate(healthy, pairs, Device(torch.device("cpu"))))


# Threads and processes: bounded by the CPUs a job may use.


def test_counts_above_the_cpus_are_clamped_with_one_warning(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 3)
    monkeypatch.setattr(cpus, "_WARNED", set())
    assert cpus.bounded(100_000, "runtime.threads") == 3
    assert cpus.bounded(100_000, "runtime.threads") == 3
    assert cpus.bounded(2, "runtime.threads") == 2
    assert cpus.bounded(0, "runtime.loader_workers", least=0) == 0
    assert cpus.bounded(8, "runtime.loader_workers", least=0) == 3
    warnings = capsys.readouterr().err.splitlines()
    assert warnings == [
        "gianet: warning: runtime.threads is 100000, but this job may use 3 CPU(s); using 3",
        "gianet: warning: runtime.loader_workers is 8, but this job may use 3 CPU(s); using 3",
    ]


def test_the_schema_bounds_threads_and_loader_processes(manifest, tmp_path, capsys) -> None:
    for key, value in (("threads", 100_000), ("loader_workers", 1000)):
        with pytest.raises(ValidationError, match=key):
            Runtime.model_validate_json(runtime_json(**{key: value}))
        argv = train_argv(manifest, tmp_path / key, runtime={key: value})
        error = one_line_error(*run(argv, capsys), "train")
        assert f"runtime.{key}" in error and "--runtime" in error
        assert not (tmp_path / key).exists()
    assert Runtime.model_validate_json(runtime_json(threads=64)).threads == 64


def test_training_runs_with_its_threads_clamped(manifest, tmp_path, capsys) -> None:
    before = torch.get_num_threads()
    try:
        argv = train_argv(manifest, tmp_path / "out", runtime={"threads": 1024})
        code, error = run(argv, capsys)
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert code == 0, error
    assert f"runtime.threads is 1024, but this job may use {cpus.usable_cpus()} CPU(s)" in error
    assert threads == cpus.usable_cpus()


# Training crops larger than the frames: refused at the stage, naming the key and the frames.


def test_training_refuses_a_patch_larger_than_the_frames(manifest, tmp_path, capsys) -> None:
    code, error = run(train_argv(manifest, tmp_path / "out", patch=512), capsys)
    error = one_line_error(code, error, "train")
    assert "train.patch: crops of up to 512 packed pixels, larger than the training frames" in error
    assert "(the smallest is 24 x 32 packed pixels); make the crops at most 24" in error
    assert not (tmp_path / "out" / "model.pt").exists()


def test_multi_size_crops_larger_than_the_frames_are_refused(manifest) -> None:
    pairs = PackedPairs(manifest.parent, "train", 1.0)

    def patches(b: list[int]) -> TrainPatches:
        crops = MultiSizeCrops(kind="multi-size", a=4, b=b)
        return TrainPatches(pairs, crops, seed=0, shots="first", flips="sid")

    patches([4, 6])  # up to 24: fits
    with pytest.raises(CropsTooLarge, match=r"train.multi_size_a x train.multi_size_b: .* 28"):
        patches([4, 7])

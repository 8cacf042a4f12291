"""The plateau criterion (gianet/report/plateau.py) on made-up curves and on the curves of a
tiny training at the demo's scale."""

from __future__ import annotations

import numpy as np
import pytest

from gianet.data.dataset import PackedPairs
from gianet.data.lists import Selection
from gianet.report.curves import read_curves
from gianet.report.plateau import TOLERANCE_DB, plateau
from gianet.training.train import train_variant
from tests.conftest import noisy_clean_scenes, recipe, repo_params, runtime, write_packed_cache


def test_a_rising_curve_has_not_plateaued_and_a_flat_one_has():
    epochs = np.arange(0, 100, 5)
    rising = plateau(epochs, 15 + epochs / 10, 100)
    assert rising is not None and not rising.reached and rising.gain_db == pytest.approx(2.0)
    flat = plateau(epochs, 20 + 0.05 * np.sin(epochs), 100)
    assert flat is not None and flat.reached and abs(flat.gain_db) < TOLERANCE_DB
    # The windows are the last fifth of the epochs and the fifth before: 80-99 and 60-79.
    assert rising.points == 4


def test_a_run_validated_too_rarely_cannot_be_judged():
    assert plateau(np.array([49, 99]), np.array([18.0, 19.0]), 100) is None


def test_a_tiny_run_on_the_demos_schedule_reaches_its_plateau(tmp_path):
    """params.yaml's schedule (width, epochs, learning rate and its decay), on three tiny
    scenes: the validation curve it logs is flat by the criterion at its end."""
    cache = tmp_path / "cache"
    scenes = noisy_clean_scenes(np.random.default_rng(0), 24, 32, shots=1, gt_suffix=".tif")
    write_packed_cache(cache, scenes)
    demo = repo_params().train
    trained = recipe("sid_net", patch=16)
    assert (trained.width, trained.epochs, trained.lr) == (demo.width, demo.epochs, demo.lr)
    every = Selection(exposures="all", exclude_scenes=[])
    train_variant(
        trained,
        PackedPairs(cache, "train", trained.max_input),
        PackedPairs(cache, "val", trained.max_input, selection=every),
        tmp_path / "model.pt",
        tmp_path / "log",
        camera="Sony",
        runtime=runtime(threads=1, device="cpu", progress=False),
    )
    curve = read_curves(tmp_path / "log")["psnr"]
    judged = plateau(curve["step"].to_numpy(), curve["psnr"].to_numpy(), trained.epochs)
    assert judged is not None and judged.points >= 2
    assert judged.reached, judged

"""No stage writes through a link it did not make: a symbolic link (or a FIFO) planted where a
job appends or resumes is refused with one line, a link at a result's path is replaced by the
result, and a file hard-linked elsewhere (into DVC's cache) is copied before it is appended
to. The victim outside the run never changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gianet import atomic
from gianet.cli import main
from gianet.jobs.interrupt import note
from gianet.training.curves_log import open_curves
from tests.fuzz_support import time_bound
from tests.stage_inputs import (
    evaluate_argv,
    pack_argv,
    small_checkpoint,
    synth_argv,
    tiny_cache,
    train_argv,
)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside every run's outputs."""
    path = tmp_path / "outside" / "victim.txt"
    path.parent.mkdir()
    path.write_text("the victim's own line\n")
    return path


def plant(path: Path, kind: str, victim: Path) -> None:
    """A symbolic link to ``victim``, a dangling link, a FIFO or a folder at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "link":
        path.symlink_to(victim)
    elif kind == "dangling":
        path.symlink_to(victim.parent / "absent.txt")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()


KINDS = ["link", "dangling", "fifo", "folder"]


@pytest.mark.parametrize("kind", KINDS)
def test_append_file_refuses_what_it_did_not_make(tmp_path, victim, kind) -> None:
    path = tmp_path / "run" / "train_history.log"
    plant(path, kind, victim)

    with pytest.raises(atomic.LinkRefused, match=f"{path}: is a") as raised:
        atomic.append_file(path)

    assert "\n" not in str(raised.value) and "Remove it" in str(raised.value)
    assert victim.read_text() == "the victim's own line\n"
    assert not (victim.parent / "absent.txt").exists()


def test_append_file_appends_to_its_own_file_and_copies_a_hard_linked_one(tmp_path) -> None:
    path = tmp_path / "run" / "log.tsv"
    with atomic.append_file(path, text=True) as handle:
        handle.write("step\tloss\n")
    cached = tmp_path / "dvc-cache" / "ab" / "cdef"
    cached.parent.mkdir(parents=True)
    os.link(path, cached)  # as DVC's cache.type hardlink leaves a committed output

    with atomic.append_file(path, text=True) as handle:
        handle.write("0\t0.5\n")

    assert path.read_text() == "step\tloss\n0\t0.5\n"
    assert cached.read_text() == "step\tloss\n" and path.stat().st_nlink == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_history_is_never_written_through_a_link(tmp_path, victim, kind) -> None:
    history = tmp_path / "models" / "train_history.log"
    plant(history, kind, victim)
    with pytest.raises(atomic.LinkRefused):
        note(history, "training sid_net on Sony: started")
    assert victim.read_text() == "the victim's own line\n"


@pytest.mark.parametrize("where", ["plots/metrics/train/loss.tsv", "plots/metrics/train", "plots"])
def test_resumed_curves_refuse_a_link_in_their_folder(tmp_path, victim, where) -> None:
    log = tmp_path / "train"
    with open_curves(log, 0) as curves:
        curves.log_metric("train/loss", 0.5)
        curves.next_step()
    planted = log / where
    os.replace(planted, tmp_path / "moved")  # the real one, out of the way
    planted.symlink_to(victim if where.endswith(".tsv") else victim.parent)

    refused = pytest.raises(atomic.LinkRefused, match="is a symbolic link")
    with refused, open_curves(log, 1) as curves:
        curves.log_metric("train/loss", 0.25)

    assert [p.name for p in victim.parent.iterdir()] == ["victim.txt"]
    assert victim.read_text() == "the victim's own line\n"


def test_fresh_curves_remove_links_among_their_files_without_following_them(
    tmp_path, victim
) -> None:
    log = tmp_path / "train"
    (log / "plots").parent.mkdir()
    (log / "plots").symlink_to(victim.parent)
    (log / "metrics.json").symlink_to(victim)

    with open_curves(log, 0) as curves:
        curves.log_metric("train/loss", 0.5)
        curves.next_step()

    assert not (log / "plots").is_symlink() and not (log / "metrics.json").is_symlink()
    assert [p.name for p in victim.parent.iterdir()] == ["victim.txt"]
    assert victim.read_text() == "the victim's own line\n"


def test_training_replaces_links_at_its_results_and_refuses_one_at_its_history(
    tmp_path, victim, capsys
) -> None:
    manifest = tiny_cache(tmp_path / "cache")
    out = tmp_path / "out"
    for name in ("model.pt", "train/metrics.json", "train/plots/metrics/train/loss.tsv"):
        plant(out / name, "link", victim)

    assert main(train_argv(manifest, out)) == 0

    for name in ("model.pt", "train/metrics.json", "train/plots/metrics/train/loss.tsv"):
        assert (out / name).is_file() and not (out / name).is_symlink()
    assert victim.read_text() == "the victim's own line\n"
    capsys.readouterr()

    (out / "model.pt").unlink()
    (out / "train_history.log").unlink()
    plant(out / "train_history.log", "link", victim)
    code = main(train_argv(manifest, out))

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "train_history.log: is a symbolic link" in error
    assert victim.read_text() == "the victim's own line\n" and not (out / "model.pt").exists()


def test_training_resumes_only_from_the_state_it_wrote(tmp_path, victim, capsys) -> None:
    manifest = tiny_cache(tmp_path / "cache")
    out = tmp_path / "out"
    plant(out / "train_state.pt", "link", victim)

    code = main(train_argv(manifest, out))

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "train_state.pt: is a symbolic link" in error
    (out / "train_state.pt").unlink()
    (out / "train_state.pt").write_bytes(b"not a state")

    code = main(train_argv(manifest, out))

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "train_state.pt: not a checkpoint" in error
    assert "delete it to train from the start" in error and "model.pt written by" not in error
    assert victim.read_text() == "the victim's own line\n"


def test_training_never_waits_on_a_fifo_at_its_history(tmp_path, capsys) -> None:
    manifest = tiny_cache(tmp_path / "cache")
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "train_history.log")
    capsys.readouterr()

    with time_bound(4.0):
        code = main(train_argv(manifest, out))

    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "train_history.log: is a FIFO" in error
    assert not (out / "model.pt").exists()


def test_evaluation_never_writes_its_samples_through_a_link(tmp_path, victim, capsys) -> None:
    manifest = tiny_cache(tmp_path / "cache")
    out = tmp_path / "out"
    out.mkdir()
    (out / "samples").symlink_to(victim.parent)
    argv = evaluate_argv(small_checkpoint(tmp_path / "model.pt"), manifest, out)

    code = main(argv)

    error = capsys.readouterr().err
    assert [p.name for p in victim.parent.iterdir()] == ["victim.txt"]
    if code == 0:
        assert (out / "samples").is_dir() and not (out / "samples").is_symlink()
    else:
        assert code == 2 and error.count("\n") == 1 and "samples: is a symbolic link" in error


# The cache's files: pack reads each entry it may reuse, and every job reads the verification
# state, before writing them again; a FIFO planted there must not stop the job for ever.


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A sid-synth Sony dataset of one scene per split, 96 x 96 raw pixels, as ``gianet
    synth`` makes it (lists and record)."""
    root = tmp_path_factory.mktemp("data")
    argv = synth_argv(root, height=96, width=96, scenes={"train": 1, "val": 1, "test": 1},
                      ratios=[100], shorts_per_scene=1, seed=0)  # fmt: skip
    assert main(argv) == 0
    return root


def _pack_with_a_fifo_at(dataset: Path, cache: Path, name: str, capsys) -> None:
    """Pack into ``cache`` with a FIFO planted at ``cache/name``: the run ends, in a result
    (the FIFO replaced by a file) or in one line naming it, within 4 s."""
    planted = cache / name
    planted.parent.mkdir(parents=True)
    os.mkfifo(planted)
    capsys.readouterr()
    with time_bound(4.0):
        code = main(pack_argv(dataset, cache / "manifest.json"))
    error = capsys.readouterr().err
    if code == 0:
        assert planted.is_file() and (cache / "manifest.json").is_file()
    else:
        assert code == 2 and error.count("\n") == 1 and str(planted) in error, error


def test_pack_never_waits_on_a_fifo_at_an_entry(dataset, tmp_path, capsys) -> None:
    _pack_with_a_fifo_at(dataset, tmp_path / "cache", "inputs/00001_00_0.1s.json", capsys)


def test_pack_never_waits_on_a_fifo_at_the_verification_state(dataset, tmp_path, capsys):
    _pack_with_a_fifo_at(dataset, tmp_path / "cache", "verified.json", capsys)


def _evaluate_with_a_fifo_at(tmp_path: Path, planted_at, capsys) -> None:
    """Evaluate a small cache with a FIFO planted at ``planted_at(manifest)``: the run ends,
    in a result (the FIFO replaced by a file) or in one line naming it, within 4 s."""
    manifest = tiny_cache(tmp_path / "cache")
    planted = planted_at(manifest)
    planted.unlink(missing_ok=True)
    os.mkfifo(planted)
    argv = evaluate_argv(small_checkpoint(tmp_path / "model.pt"), manifest, tmp_path / "out")
    capsys.readouterr()
    with time_bound(4.0):
        code = main(argv)
    error = capsys.readouterr().err
    if code == 0:
        assert planted.is_file() and (tmp_path / "out" / "summary.json").is_file()
    else:
        assert code == 2 and error.count("\n") == 1 and str(planted) in error, error


def test_evaluation_never_waits_on_a_fifo_at_the_verification_state(tmp_path, capsys):
    _evaluate_with_a_fifo_at(tmp_path, lambda manifest: manifest.parent / "verified.json", capsys)


def test_evaluation_never_waits_on_a_fifo_at_a_cached_array(tmp_path, capsys):
    def test_input(manifest: Path) -> Path:
        loaded = json.loads(manifest.read_text())
        return manifest.parent / loaded["entries"][loaded["splits"]["test"][0]["short"]]["array"]

    _evaluate_with_a_fifo_at(tmp_path, test_input, capsys)

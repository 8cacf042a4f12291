"""Fuzz cases of a hostile environment rather than hostile bytes: links and special files at
output paths, a second run of the same output, resource limits, networks whose output is not
finite, and web servers that stall or lie. Each builder returns a :class:`Case` judged as
every fuzz case is (:func:`tests.fuzz_support.run_case`)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import random
import shutil
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from gianet.models.checkpoint import load_checkpoint
from gianet.paths import VERIFIED
from gianet.stages import STAGES
from tests.conftest import file_size_limit
from tests.fuzz_support import CACHE_UPDATES, Case, Seeds, arrays_read, hold_their_bytes
from tests.http_server import NAME, PAYLOAD, ServerState
from tests.lock_holder import hold_lock
from tests.stage_inputs import (
    download_argv,
    evaluate_argv,
    lists_of,
    pack_argv,
    train_argv,
    unpack_argv,
)

#: What a victim outside the run holds; it must hold it after every case.
VICTIM_TEXT = "the victim's own line\n"


def _stage(seeds: Seeds, rng: random.Random, folder: Path) -> tuple[Case, list[Path]]:
    """A healthy run of a stage chosen at random, and the paths it writes, appends to or
    resumes (its declared outputs and the files beside them; for train and evaluate, also the
    cache's verification record and the arrays they read, which they check and rebuild)."""
    inputs, out = folder / "in", folder / "out"
    # sid-unpack extracts and hashes the 2928 files SID's lists name (seconds): drawn less often.
    kind = rng.choices(["train", "evaluate", "enhance", "pack", "sid-unpack"], [2, 2, 2, 2, 1])[0]
    if kind in ("train", "evaluate"):
        cache = inputs / "cache"
        shutil.copytree(seeds.cache, cache)
        manifest = cache / "manifest.json"
        arrays = arrays_read(manifest, "train" if kind == "train" else "test")
        updated = [cache / VERIFIED, *arrays]
    if kind == "train":
        model, curves = out / "model.pt", out / "train" / "metrics.json"
        argv = train_argv(manifest, out)
        paths = [model, curves, out / "train_history.log", out / "train_state.pt",
                 out / "train" / "plots" / "metrics" / "train" / "loss.tsv"]  # fmt: skip

        def trained() -> None:
            _is_checkpoint(model)
            hold_their_bytes(manifest, arrays)

        return Case(folder, kind, argv, trained, kept=CACHE_UPDATES), [*paths, *updated]
    if kind == "evaluate":
        (inputs / "model.pt").write_bytes(seeds.checkpoint)
        argv = evaluate_argv(inputs / "model.pt", manifest, out)
        summary = out / "summary.json"

        def evaluated() -> None:
            _is_summary(summary)
            hold_their_bytes(manifest, arrays)

        paths = [out / "metrics.csv", summary, out / "samples"]
        return Case(folder, kind, argv, evaluated, kept=CACHE_UPDATES), [*paths, *updated]
    if kind == "enhance":
        (inputs / "shot.dng").write_bytes(seeds.raw)
        (inputs / "model.pt").write_bytes(seeds.checkpoint)
        image = out / "o.png"
        argv = ["enhance", str(inputs / "shot.dng"), "--checkpoint", str(inputs / "model.pt"),
                "--ratio", "100", "--out", str(image)]  # fmt: skip
        return Case(folder, kind, argv, lambda: _is_png(image)), [image]
    if kind == "pack":
        manifest = out / "cache" / "manifest.json"
        stems = [p.stem for p in _raws(seeds)]
        beside = [manifest.parent / "inputs" / f"{stem}{suffix}"
                  for stem in stems for suffix in (".npy", ".json")]  # fmt: skip
        argv = pack_argv(seeds.dataset, manifest)
        paths = [manifest, manifest.parent / VERIFIED, *beside]
        return Case(folder, kind, argv, lambda: _is_json(manifest)), paths
    archive = inputs / "Sony.zip"
    archive.write_bytes(seeds.sid_archive)
    root = out / "data"
    record = root / "Sony_sources.tsv"
    marker = root / "Sony" / ".extracted.json"

    def unpacked() -> None:
        _is_json(marker)
        assert not record.is_symlink() and record.read_text().count("\n") > 2000

    argv = unpack_argv(root, archive)
    paths = [*map(Path, lists_of(root)), record, root / "Sony"]
    return Case(folder, kind, argv, unpacked), paths


def _raws(seeds: Seeds) -> list[Path]:
    return sorted((seeds.dataset / "Sony" / "short").glob("*.dng"))


def _is_checkpoint(path: Path) -> None:
    assert path.is_file() and not path.is_symlink() and "state_dict" in load_checkpoint(path)


def _is_summary(path: Path) -> None:
    assert not path.is_symlink() and math.isfinite(json.loads(path.read_text())["psnr"])


def _is_png(path: Path) -> None:
    assert not path.is_symlink() and path.read_bytes().startswith(b"\x89PNG")


def _is_json(path: Path) -> None:
    assert path.is_file() and not path.is_symlink() and json.loads(path.read_text())


def links_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """A symbolic link to a victim outside the run, a dangling link, a FIFO or a folder,
    planted at one of the paths a stage writes, appends to or resumes. A FIFO is never
    waited on: it is refused in one line naming it, or replaced by the file the job writes
    there (a result, a cache's verification state, an array or entry the job rebuilds)."""
    case, paths = _stage(seeds, rng, folder)
    victim = folder / "in" / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    target = rng.choice(paths)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():  # an input the run updates (the cache's)
        target.unlink()
    planted = rng.choice(["link", "dangling", "fifo", "folder"])
    if planted == "link":
        target.symlink_to(victim)
    elif planted == "dangling":
        target.symlink_to(folder / "in" / "absent")
    elif planted == "fifo":
        os.mkfifo(target)
        return _fifo_refused_or_replaced(case, target)
    else:
        target.mkdir()
    return case


def _fifo_refused_or_replaced(case: Case, fifo: Path) -> Case:
    """``case``, judged also on the FIFO planted at ``fifo``: an error names it, a result
    leaves no FIFO there."""
    result, error = case.check_result, case.check_error

    def replaced() -> None:
        result()
        assert not fifo.is_fifo(), f"{fifo}: a FIFO left where the run wrote its file"

    def refused(stderr: str) -> None:
        if error is not None:
            error(stderr)
        prefix = f"gianet {case.stage}: error: "
        line = next(line for line in stderr.splitlines() if line.startswith(prefix))
        assert str(fifo) in line, f"the error does not name the FIFO {fifo}: {line}"

    return replace(case, check_result=replaced, check_error=refused)


def concurrent_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """Another process holds the lock of one of the stage's outputs (the run must refuse,
    naming it), or held it and was killed (the run goes on)."""
    case, paths = _stage(seeds, rng, folder)
    output = case.argv[case.argv.index(_output_flag(case.stage)) + 1]
    if rng.random() < 0.3:

        @contextlib.contextmanager
        def killed_holder() -> Iterator[None]:
            with hold_lock(output) as holder:
                holder.send_signal(signal.SIGKILL)
                holder.wait()
                yield

        case.during = killed_holder
        return case

    @contextlib.contextmanager
    def live_holder() -> Iterator[None]:
        # A training waits a bounded time for an ending run of its model (minutes): 0.2 s.
        waiting = replace(STAGES["train"], wait_for_outputs=0.2)
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(STAGES, "train", waiting)
            with hold_lock(output, f"gianet {case.stage} (the other run)"):
                yield

    case.during = live_holder
    case.expect_error = f"{output}: another run is making it"
    return case


def _output_flag(stage: str) -> str:
    return {"train": "--model", "evaluate": "--csv", "enhance": "--out", "pack": "--manifest",
            "sid-unpack": "--lists"}[stage]  # fmt: skip


def limits_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """A file-size limit (``ulimit -f``) from none to a megabyte, or thread and loader
    counts at the schema's maximum (clamped to the machine)."""
    case, _ = _stage(seeds, rng, folder)
    if rng.random() < 0.25 and "--runtime" in case.argv:
        at = case.argv.index("--runtime") + 1
        runtime = json.loads(case.argv[at]) | {"threads": 1024, "loader_workers": 64}
        case.argv[at] = json.dumps(runtime)
        return case
    limit = rng.choice([0, 100, 4096, 65536, 1 << 20])
    case.during = functools.partial(file_size_limit, limit)
    return case


def nonfinite_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """A checkpoint whose weights hold NaN or infinities, or are scaled until the network
    overflows, through ``evaluate`` or ``enhance``."""
    while True:
        case, _ = _stage(seeds, rng, folder)
        if case.stage in ("evaluate", "enhance"):
            break
        shutil.rmtree(folder / "in")
        shutil.rmtree(folder / "out")
        (folder / "in").mkdir()
        (folder / "out").mkdir()
    checkpoint = load_checkpoint(folder / "in" / "model.pt")
    names = sorted(checkpoint["state_dict"])
    how = rng.choice(["nan", "inf", "-inf", "scale"])
    for name in rng.sample(names, rng.randint(1, 3)):
        weights = checkpoint["state_dict"][name]
        if how == "scale":
            weights.mul_(1e30)
        else:
            generator = torch.Generator().manual_seed(rng.randrange(2**31))
            chosen = torch.rand(weights.shape, generator=generator) < 0.5
            chosen.view(-1)[0] = True
            weights[chosen] = float(how)
    torch.save(checkpoint, folder / "in" / "model.pt")
    return case


def stalling_case(
    seeds: Seeds, rng: random.Random, folder: Path, server: tuple[ServerState, str]
) -> Case:
    """``sid-download`` from a server that stalls after some bytes, declares a size that is
    not the body's (smaller, larger, absurd), fails, or cuts bodies short."""
    state, url = server
    fresh = ServerState(PAYLOAD)
    for key in vars(fresh):
        setattr(state, key, getattr(fresh, key))
    behaviour = rng.choice(["stall", "lie", "huge", "fail", "drop"])
    if behaviour == "stall":
        state.stalls, state.stall_after = rng.randint(1, 3), rng.choice([0, 1, 300, 100_000])
        state.stall_seconds = 0.5
    elif behaviour in ("lie", "huge"):
        state.lies = rng.randint(1, 2)
        state.declared = 10**15 if behaviour == "huge" else rng.randrange(1, 2 * len(PAYLOAD))
    elif behaviour == "fail":
        state.fail = rng.randint(1, 4)
    else:
        state.drop, state.no_length = rng.randint(1, 3), rng.random() < 0.5
    out = folder / "out" / NAME
    argv = download_argv(url, out, folder / "out" / "sid.sha256", download_timeout=0.2,
                         download_retries=2)  # fmt: skip

    def downloaded() -> None:
        assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(PAYLOAD).digest()

    return Case(folder, "sid-download", argv, downloaded)

"""A bounded, seeded fuzz test of the command line.

Random and mutated bytes go in as raw files (``enhance`` and ``pack``), archives (``sid-unpack``),
checkpoints (``enhance``), cache manifests and arrays (``evaluate``), params files
(``check-params``) and job settings (``train --settings/--runtime``); and a hostile
environment around healthy inputs (:mod:`tests.fuzz_hostile`): links, FIFOs and folders
planted at output paths, a second run holding an output's lock, file-size limits and thread
counts at the schema's maximum, checkpoints whose outputs are not finite, and web servers that
stall or lie about sizes. Each case runs through :func:`gianet.cli.main` in-process under a
time bound. Every case must end in a one-line error
(exit 2, the ``gianet STAGE: error:`` line, no traceback) or a correct result (exit 0 and the
outputs it promises), and change no file outside the run's own outputs (a training or an
evaluation may update the cache it reads: its verification state and the arrays it rebuilds,
which must then hold the bytes their manifest records). The seed and the case count fix every
input (up to the temporary folders' names, which the manifests hold), so a failure reproduces.

The defects the fuzz found each have a test of their own at the end of this module (and in
tests/test_links.py, tests/test_limits.py and tests/test_messages.py); the cases draw their
inputs too.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import random
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from gianet.cli import main
from gianet.data.arrays import array_problem
from gianet.data.manifest import load_manifest
from gianet.data.sources import record_sources
from tests.conftest import SMALL_CHECKPOINT_META
from tests.fuzz_hostile import (
    concurrent_case,
    limits_case,
    links_case,
    nonfinite_case,
    stalling_case,
)
from tests.fuzz_support import (
    CACHE_UPDATES,
    Case,
    CaseTimeout,
    Seeds,
    arrays_read,
    hold_their_bytes,
    mutate_bytes,
    mutate_text,
    run_case,
)
from tests.http_server import ServerState, serve
from tests.stage_inputs import (
    evaluate_argv,
    lists_of,
    pack_argv,
    runtime_json,
    sid_archive,
    small_checkpoint,
    synth_argv,
    train_argv,
    train_settings,
    unpack_argv,
    verify_argv,
)

REPO = Path(__file__).parents[1]
SEED = 20240612
#: Cases per kind: about 30 s in all on a 2-core CPU, 12 s of it the hostile environment's.
CASES = {
    "raw": 30,
    "raw-pack": 10,
    "archive": 80,
    "checkpoint": 40,
    "manifest": 50,
    "params": 80,
    "settings": 60,
    "links": 16,
    "concurrent": 10,
    "limits": 14,
    "nonfinite": 10,
    "stalling": 12,
}
META = SMALL_CHECKPOINT_META
FUZZ_REPORT = False  # print each kind's outcomes (pytest -s) when tuning the cases


# What every case starts from, made once.


def _archives() -> dict[str, bytes]:
    rng = random.Random(1)
    members = {
        "Sony/short/00001_00_0.1s.ARW": rng.randbytes(3000),
        "Sony/long/00001_00_10s.ARW": rng.randbytes(2000),
        "README.txt": b"SID",
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for folder in ("Sony/", "Sony/short/", "Sony/long/"):
            bundle.writestr(folder, b"")
        for name, data in members.items():
            bundle.writestr(name, data)
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return {".zip": archive.getvalue(), ".tar.gz": tarred.getvalue()}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Seeds:
    """A sid-synth Sony dataset (one scene per split, 96 x 96 raw pixels) made, packed and
    verified by the stages, with its record beside the cache's manifest (as
    :func:`tests.stage_inputs.cache_files` hands it); a small checkpoint; archives."""
    folder = tmp_path_factory.mktemp("fuzz-seeds")
    root = folder / "data"
    scenes = {"train": 1, "val": 1, "test": 1}
    argv = synth_argv(root, height=96, width=96, scenes=scenes, ratios=[100],
                      shorts_per_scene=1, seed=0)  # fmt: skip
    assert main(argv) == 0
    cache = folder / "cache"
    record = root / "Sony_sources.tsv"
    assert main(pack_argv(root, cache / "manifest.json")) == 0
    shutil.copyfile(record, cache / "record.tsv")
    assert main(verify_argv(cache / "manifest.json", record)) == 0
    return Seeds(
        folder=folder,
        dataset=root,
        raw=next((root / "Sony" / "short").glob("*.dng")).read_bytes(),
        checkpoint=small_checkpoint(folder / "model.pt").read_bytes(),
        cache=cache,
        archives=_archives(),
        params=(REPO / "params.yaml").read_text(),
        train=train_settings(),
        runtime=runtime_json(),
        sid_archive=sid_archive(folder / "Sony.zip").read_bytes(),
    )


def raw_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    raw = folder / "in" / "shot.dng"
    raw.write_bytes(mutate_bytes(seeds.raw, rng))
    (folder / "in" / "model.pt").write_bytes(seeds.checkpoint)
    out = folder / "out" / "o.png"
    argv = ["enhance", str(raw), "--checkpoint", str(folder / "in" / "model.pt"),
            "--ratio", "100", "--out", str(out)]  # fmt: skip
    return Case(folder, "enhance", argv, lambda: _is_rgb16(out))


def pack_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """A dataset with one raw mutated: recorded as it is (as ``sid-unpack`` records a damaged
    download), so that the decoder reads its bytes; or left as recorded before, when pack
    must refuse it before decoding it."""
    root = folder / "in" / "data"
    shutil.copytree(seeds.dataset, root)
    victim = rng.choice(sorted(root.glob("Sony/*/*.dng")))
    before = victim.read_bytes()
    victim.write_bytes(mutate_bytes(before, rng))
    recorded = rng.random() < 0.8
    if recorded:
        record_sources(root, "Sony", root / "Sony_sources.tsv", progress=False)
    unrecorded = not recorded and victim.read_bytes() != before
    manifest = folder / "out" / "cache" / "manifest.json"

    def packed() -> None:
        assert not unrecorded, "a raw that differs from the dataset record was packed"
        loaded = load_manifest(manifest.parent)
        assert len(loaded["entries"]) == 6
        for meta in loaded["entries"].values():  # what pack --full-check hashes
            assert array_problem(manifest.parent, meta, full=True) is None

    def refused(stderr: str) -> None:
        name = victim.relative_to(root).as_posix()
        assert not unrecorded or f"{name}: its content differs from the dataset record" in stderr

    return Case(folder, "pack", pack_argv(root, manifest), packed, check_error=refused)


def checkpoint_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    (folder / "in" / "shot.dng").write_bytes(seeds.raw)
    (folder / "in" / "model.pt").write_bytes(mutate_bytes(seeds.checkpoint, rng))
    out = folder / "out" / "o.png"
    argv = ["enhance", str(folder / "in" / "shot.dng"), "--checkpoint",
            str(folder / "in" / "model.pt"), "--ratio", "100", "--out", str(out)]  # fmt: skip
    return Case(folder, "enhance", argv, lambda: _is_rgb16(out))


def _is_rgb16(path: Path) -> None:
    import imageio.v3 as iio

    from gianet.inference.image16 import PNG_SIGNATURE

    assert path.read_bytes().startswith(PNG_SIGNATURE)
    image = iio.imread(path) if path.suffix != ".png" else None
    assert image is None or image.ndim == 3


def archive_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """A mutated archive of three members: SID's lists name files it lacks, so a run ends in
    an error; one that extracted the archive must have extracted all of it, and written the
    lists but no record."""
    suffix = rng.choice(list(seeds.archives))
    archive = folder / "in" / f"Sony{suffix}"
    archive.write_bytes(mutate_bytes(seeds.archives[suffix], rng))
    root = folder / "out" / "data"
    lists = lists_of(root)

    def never() -> None:
        raise AssertionError("sid-unpack succeeded without the files SID's lists name")

    def extracted(stderr: str) -> None:
        if " does not exist under " not in stderr:
            return  # refused before the lists were checked
        marker = json.loads((root / "Sony" / ".extracted.json").read_text())
        assert marker["files"] and all((root / "Sony" / name).is_file() for name in marker["files"])
        assert all(Path(path).is_file() for path in lists)
        assert sorted(p.name for p in root.iterdir()) == sorted(
            ["Sony", *(Path(p).name for p in lists)]
        )

    return Case(folder, "sid-unpack", unpack_argv(root, archive), never, check_error=extracted)


def manifest_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """A copy of the packed cache with its manifest, an array, its verification record or
    its dataset record mutated, evaluated. A manifest without a text root or a test split is
    refused, naming it; a verification record, whatever it holds, is only bookkeeping (what it
    does not vouch for is checked again), so the evaluation then succeeds."""
    cache = folder / "in" / "cache"
    shutil.copytree(seeds.cache, cache)
    manifest = cache / "manifest.json"
    roll = rng.random()
    refused = succeeds = False
    if roll < 0.6:
        mutated = mutate_text(
            manifest.read_text(), rng, json.loads, lambda v: json.dumps(v, indent=1)
        )
        manifest.write_bytes(mutated)
        refused = _lacks_root_or_test_split(mutated)
    elif roll < 0.8:  # a damaged array under a sound manifest
        array = rng.choice(sorted(cache.rglob("*.npy")))
        array.write_bytes(mutate_bytes(array.read_bytes(), rng))
    elif roll < 0.9:
        verified = cache / "verified.json"
        verified.write_bytes(mutate_text(verified.read_text(), rng, json.loads, json.dumps))
        succeeds = True
    else:
        record = cache / "record.tsv"
        record.write_bytes(mutate_bytes(record.read_bytes(), rng))
    (folder / "in" / "model.pt").write_bytes(seeds.checkpoint)
    out = folder / "out"

    def evaluated() -> None:
        assert not refused, "evaluated a manifest without a text root or a test split"
        summary = json.loads((out / "summary.json").read_text())
        rows = (out / "metrics.csv").read_text().splitlines()
        assert summary["n_images"] == len(rows) - 1 >= 1 and np.isfinite(summary["psnr"])
        hold_their_bytes(manifest, arrays_read(manifest, "test"))

    def stopped(stderr: str) -> None:
        assert not succeeds, f"a mutated verification record stopped the evaluation: {stderr}"
        line = next(
            line for line in stderr.splitlines() if line.startswith("gianet evaluate: error: ")
        )
        assert not refused or f"{manifest}: not a manifest written by gianet pack" in line, line

    argv = evaluate_argv(folder / "in" / "model.pt", manifest, out)
    return Case(folder, "evaluate", argv, evaluated, check_error=stopped, kept=CACHE_UPDATES)


def _lacks_root_or_test_split(data: bytes) -> bool:
    """Whether ``data`` is a JSON object with ``entries`` and ``splits`` objects but no
    non-empty text ``root`` or no ``test`` split (which ``evaluate`` reads)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    if not isinstance(value, dict):
        return False
    entries, splits = value.get("entries"), value.get("splits")
    if not isinstance(entries, dict) or not isinstance(splits, dict):
        return False
    root = value.get("root")
    return not (isinstance(root, str) and root) or "test" not in splits


def params_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    params = folder / "in" / "params.yaml"
    if rng.random() < 0.5:
        params.write_bytes(mutate_text(seeds.params, rng, yaml.safe_load, yaml.safe_dump))
    else:
        params.write_bytes(mutate_bytes(seeds.params.encode(), rng))
    return Case(folder, "check-params", ["check-params", str(params)], lambda: None)


def settings_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    """``train`` with its ``--settings`` or ``--runtime`` mutated, on a cache that is not
    there: it must refuse, never train."""
    settings, runtime = seeds.train, seeds.runtime
    if rng.random() < 0.6:
        settings = mutate_text(settings, rng, json.loads, json.dumps).decode("utf-8", "replace")
    else:
        runtime = mutate_text(runtime, rng, json.loads, json.dumps).decode("utf-8", "replace")
    argv = train_argv(folder / "in" / "absent" / "manifest.json", folder / "out")
    argv[argv.index("--settings") + 1] = settings
    argv[argv.index("--runtime") + 1] = runtime

    def never() -> None:
        raise AssertionError("training ran without a cache")

    return Case(folder, "train", argv, never)


BUILDERS = {
    "raw": raw_case,
    "raw-pack": pack_case,
    "archive": archive_case,
    "checkpoint": checkpoint_case,
    "manifest": manifest_case,
    "params": params_case,
    "settings": settings_case,
    "links": links_case,
    "concurrent": concurrent_case,
    "limits": limits_case,
    "nonfinite": nonfinite_case,
    "stalling": stalling_case,
}


@pytest.fixture(scope="module")
def web() -> Iterator[tuple[ServerState, str]]:
    """The stand-in web server of the stalling kind; downloads back off 10 ms, not 1 s."""
    from gianet.fetch import download

    with pytest.MonkeyPatch.context() as patch, serve(patch) as served:
        patch.setattr(download, "download", functools.partial(download.download, backoff=0.01))
        yield served


@pytest.mark.parametrize("kind", CASES)
def test_random_and_mutated_inputs_end_in_one_line_or_a_result(
    seeds, tmp_path, capsys, request, kind
):
    rng = random.Random(f"{SEED}-{kind}")
    extra = {"server": request.getfixturevalue("web")} if kind == "stalling" else {}
    outcomes = []
    for number in range(CASES[kind]):
        folder = tmp_path / f"{kind}-{number}"
        (folder / "in").mkdir(parents=True)
        (folder / "out").mkdir()
        case = BUILDERS[kind](seeds, rng, folder, **extra)
        try:
            outcomes.append(run_case(case, capsys))
        except (AssertionError, CaseTimeout) as failure:
            raise AssertionError(f"{kind} case {number} ({case.argv}): {failure}") from failure
        shutil.rmtree(folder)
    errors = [line for code, line in outcomes if code == 2]
    assert errors  # the cases reach the error paths
    if FUZZ_REPORT:
        print(kind, sum(code == 0 for code, _ in outcomes), "results", *sorted(errors), sep="\n")


# Defects the fuzz found, one case each (fixed; the fuzz draws these inputs too).


@pytest.mark.parametrize("change", ["no root", "root 1", "root null", "no test split"])
def test_a_manifest_without_a_root_or_a_test_split_is_one_line(seeds, tmp_path, capsys, change):
    folder = tmp_path / "case"
    (folder / "out").mkdir(parents=True)
    cache = folder / "in" / "cache"
    shutil.copytree(seeds.cache, cache)
    (folder / "in" / "model.pt").write_bytes(seeds.checkpoint)
    manifest = json.loads((cache / "manifest.json").read_text())
    if change == "no test split":
        del manifest["splits"]["test"]
    elif change == "no root":
        del manifest["root"]
    else:
        manifest["root"] = json.loads(change.split()[1])
    (cache / "manifest.json").write_text(json.dumps(manifest))
    argv = evaluate_argv(folder / "in" / "model.pt", cache / "manifest.json", folder / "out")

    def never() -> None:
        raise AssertionError("evaluated a manifest that is not one")

    code, line = run_case(Case(folder, "evaluate", argv, never, kept=CACHE_UPDATES), capsys)
    assert code == 2 and str(cache / "manifest.json") in line


def test_a_gzip_whose_checksum_is_wrong_is_one_line(tmp_path, capsys) -> None:
    folder = tmp_path / "case"
    (folder / "in").mkdir(parents=True)
    (folder / "out").mkdir()
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as bundle:
        info = tarfile.TarInfo("Sony/short/00001_00_0.1s.ARW")
        info.size = 3
        bundle.addfile(info, io.BytesIO(b"raw"))
    # The header and the data block without the end-of-archive blocks, so that listing the
    # members reads to the stream's end, where gzip checks its trailer.
    data = bytearray(gzip.compress(tarred.getvalue()[:1024]))
    data[-8] ^= 0xFF  # the trailer's CRC-32
    archive = folder / "in" / "Sony.tar.gz"
    archive.write_bytes(bytes(data))
    argv = unpack_argv(folder / "out" / "data", archive)

    def never() -> None:
        raise AssertionError("an archive that fails its checksum was unpacked")

    code, line = run_case(Case(folder, "sid-unpack", argv, never), capsys)
    assert code == 2 and str(archive) in line


@pytest.mark.parametrize("sources", [["a"], 1, "ab"])
def test_a_verification_state_of_another_shape_is_not_trusted(seeds, tmp_path, capsys, sources):
    folder = tmp_path / "case"
    (folder / "out").mkdir(parents=True)
    cache = folder / "in" / "cache"
    shutil.copytree(seeds.cache, cache)
    (folder / "in" / "model.pt").write_bytes(seeds.checkpoint)
    (cache / "verified.json").write_text(json.dumps({"format": 1, "sources": sources}))
    manifest = cache / "manifest.json"
    out = folder / "out"
    argv = evaluate_argv(folder / "in" / "model.pt", manifest, out)

    def evaluated() -> None:
        assert json.loads((out / "summary.json").read_text())["n_images"] == 1
        hold_their_bytes(manifest, arrays_read(manifest, "test"))

    code, _ = run_case(Case(folder, "evaluate", argv, evaluated, kept=CACHE_UPDATES), capsys)
    assert code == 0

"""The cache's integrity guarantee (gianet/data/verify.py): every file a job reads is verified
once after it is written and again whenever its file changes; a damaged or missing array is
rebuilt by the job that reads it, or named with the fix; a raw changed since packing stops
the job, named; and building the DAG changes no file."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import yaml

from gianet.cli import main
from gianet.data import verify
from gianet.data.arrays import open_array
from gianet.data.lists import Pair
from gianet.data.manifest import CacheError, load_manifest
from gianet.data.verified import read_state
from gianet.data.verify import prepare_cache
from gianet.paths import SPLITS
from tests.conftest import repo_params, tiny_config

REPO = Path(__file__).parents[1]


def pack_args(root: Path, cache: Path, *extra: str) -> list[str]:
    lists = [str(root / f"Sony_{split}_list.txt") for split in SPLITS]
    return ["pack", "--lists", *lists, "--record", str(root / "Sony_sources.tsv"),
            "--manifest", str(cache / "manifest.json"), "--params", str(REPO / "params.yaml"),
            "--camera", "Sony", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny sid-synth Sony dataset (192 x 192 raws), recorded, and its cache, packed once."""
    folder = tmp_path_factory.mktemp("integrity")
    root, cache = folder / "data", folder / "cache"
    settings = repo_params().model_dump()
    settings["synth"].update(height=192, width=192, shorts_per_scene=1, ratios=[100])
    settings["synth"]["scenes"] = {"train": 1, "val": 1, "test": 1}
    from gianet.stages.data import SynthJob

    synth = SynthJob(camera="Sony", synth=settings["synth"]).model_dump_json()
    lists = [str(root / f"Sony_{split}_list.txt") for split in SPLITS]
    runtime = repo_params().runtime.model_copy(update={"progress": False}).model_dump_json()
    assert main(["synth", "--lists", *lists, "--record", str(root / "Sony_sources.tsv"),
                 "--settings", synth, "--runtime", runtime]) == 0  # fmt: skip
    assert main(pack_args(root, cache)) == 0
    return root, cache


@pytest.fixture()
def cache(packed, tmp_path) -> tuple[Path, Path]:
    """A private copy of the packed cache (same dataset root): its arrays are new files, so
    the verification state pack left names other fingerprints."""
    root, original = packed
    copy = tmp_path / "cache"
    shutil.copytree(original, copy)
    return root, copy


def stat(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def gt_entry(cache_dir: Path) -> tuple[dict, Path]:
    manifest = load_manifest(cache_dir)
    meta = next(m for m in manifest["entries"].values() if m["kind"] == "gt")
    return meta, cache_dir / meta["array"]


def every_pair(manifest: dict) -> list[Pair]:
    return [Pair(**p) for split in SPLITS for p in manifest["splits"][split]]


def prepare(root: Path, cache_dir: Path, pairs=None, **options) -> list[str]:
    manifest = load_manifest(cache_dir)
    pairs = every_pair(manifest) if pairs is None else pairs
    return prepare_cache(cache_dir, manifest, root / "Sony_sources.tsv", pairs, **options)


def test_a_sound_cache_is_verified_once_then_trusted_without_reading_an_array(cache, monkeypatch):
    root, cache_dir = cache
    assert prepare(root, cache_dir) == []  # a copy: every array hashed once
    manifest = load_manifest(cache_dir)
    state = read_state(cache_dir / "verified.json")
    assert state["arrays"] == {
        meta["array"]: stat(cache_dir / meta["array"]) for meta in manifest["entries"].values()
    }

    def no_reading(*args, **kwargs):
        raise AssertionError("an unchanged array was read again")

    monkeypatch.setattr("gianet.data.verify.array_problem", no_reading)
    monkeypatch.setattr("gianet.data.verify.sha256_of", no_reading)
    assert prepare(root, cache_dir) == []


def test_pack_leaves_its_arrays_verified(packed, monkeypatch):
    root, cache_dir = packed
    monkeypatch.setattr("gianet.data.verify.array_problem", lambda *a, **k: "read")
    assert prepare(root, cache_dir) == []


@pytest.mark.parametrize("damage", ["same size garbage", "mtime put back", "missing"])
def test_a_damaged_or_missing_array_is_rebuilt_by_the_job_that_reads_it(cache, damage):
    root, cache_dir = cache
    prepare(root, cache_dir)
    meta, array = gt_entry(cache_dir)
    good = array.read_bytes()
    times = array.stat()
    if damage == "missing":
        array.unlink()
    else:
        data = bytearray(good)
        data[5000] ^= 0xFF
        array.write_bytes(bytes(data))
    if damage == "mtime put back":  # the status-change time still moves
        os.utime(array, ns=(times.st_atime_ns, times.st_mtime_ns))

    rebuilt = prepare(root, cache_dir)

    assert len(rebuilt) == 1 and str(array) in rebuilt[0] and meta["source"] in rebuilt[0]
    assert array.read_bytes() == good
    assert read_state(cache_dir / "verified.json")["arrays"][meta["array"]] == stat(array)


def test_only_the_arrays_a_job_reads_are_rebuilt(cache):
    """A clone holds the versioned manifest but no arrays: each job rebuilds what it reads."""
    root, cache_dir = cache
    shutil.rmtree(cache_dir / "inputs")
    shutil.rmtree(cache_dir / "gt")
    (cache_dir / "verified.json").unlink()
    test = [Pair(**p) for p in load_manifest(cache_dir)["splits"]["test"]]

    rebuilt = prepare(root, cache_dir, test)

    assert len(rebuilt) == 2 * len(test)
    assert sorted(p.name for p in (cache_dir / "gt").iterdir() if p.suffix == ".npy") == [
        Path(pair.long).name.replace(".dng", ".npy") for pair in test
    ]


def test_a_raw_changed_since_packing_stops_the_job_naming_it(cache):
    root, cache_dir = cache
    meta, _ = gt_entry(cache_dir)
    source = root / meta["source"]
    original = source.read_bytes()
    try:
        source.write_bytes(original)  # rewritten, same content: hashed once, accepted
        assert prepare(root, cache_dir) == []
        source.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # new content
        with pytest.raises(CacheError) as error:
            prepare(root, cache_dir)
    finally:
        source.write_bytes(original)
    message = str(error.value)
    assert meta["source"] in message and "record" in message and "\n" not in message


def test_full_hashes_every_file_whatever_its_fingerprint(cache, monkeypatch):
    root, cache_dir = cache
    prepare(root, cache_dir)
    hashed = []
    real = verify.sha256_of
    monkeypatch.setattr(verify, "sha256_of", lambda path: hashed.append(path) or real(path))
    prepare(root, cache_dir, full=True)
    assert len(hashed) == len(load_manifest(cache_dir)["entries"])  # every raw


def test_two_jobs_at_once_repair_a_damaged_array_once(cache):
    """The second job waits on the cache's lock and finds the array repaired."""
    root, cache_dir = cache
    prepare(root, cache_dir)
    _, array = gt_entry(cache_dir)
    array.write_bytes(bytes(array.stat().st_size))
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(prepare, [root, root], [cache_dir, cache_dir]))
    assert sorted(len(lines) for lines in results) == [0, 1]


def test_a_truncated_array_is_one_clear_error(cache):
    _, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    array.write_bytes(array.read_bytes()[:-10])
    with pytest.raises(CacheError) as error:
        open_array(cache_dir, meta)
    assert "truncated" in str(error.value) or "holds" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_damaged_entry_whose_source_is_gone_is_named_with_the_fix(cache):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    array.write_bytes(b"\x93NUMPY garbage")
    (root / meta["source"]).rename(root / "moved-away.dng")
    try:
        with pytest.raises(CacheError) as error:
            prepare(root, cache_dir)
    finally:
        (root / "moved-away.dng").rename(root / meta["source"])
    message = str(error.value)
    assert meta["source"] in message and "cannot be rebuilt" in message
    assert "--forcerun pack" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "cannot read the cache manifest"),
        (b"\xff\xfe{}", "cannot read the cache manifest"),
        (b"[]", "not a JSON object"),
        (b'{"entries": {}, "splits": {}}', "no 'root' naming the dataset's folder"),
        (
            b'{"root": "d", "entries": {}, "splits": {"test": []}}',
            "split 'test' is not a non-empty",
        ),
        (
            b'{"root": "d", "entries": {"a": {"array": "../x.npy", "shape": [1, 1, 1]}},'
            b' "splits": {}}',
            None,
        ),
    ],
)
def test_a_damaged_manifest_is_named_with_the_fix(tmp_path, content, problem):
    (tmp_path / "manifest.json").write_bytes(content)
    if problem is None:  # structurally fine, but the array lies outside the cache
        manifest = load_manifest(tmp_path)
        with pytest.raises(CacheError, match="not a file inside the cache"):
            open_array(tmp_path, manifest["entries"]["a"])
        return
    with pytest.raises(CacheError, match=problem) as raised:
        load_manifest(tmp_path)
    assert "gianet pack" in str(raised.value) and "\n" not in str(raised.value)


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "1",
               *args, "--configfile", "tiny.yaml"]  # fmt: skip
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time, Snakemake's own bookkeeping aside."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() and ".snakemake" not in path.parts
    }


def measured_metrics(csv: Path) -> list[tuple[str, str, str]]:
    """Each test image's PSNR and SSIM as written (its seconds aside)."""
    rows = csv.read_text().splitlines()
    columns = rows[0].split(",")
    keep = [columns.index(name) for name in ("file", "psnr", "ssim")]
    return [tuple(row.split(",")[i] for i in keep) for row in rows[1:]]


@pytest.mark.slow
def test_the_run_that_reads_a_damaged_array_repairs_it_and_a_dry_run_changes_nothing(tmp_path):
    config = tiny_config(cameras=["Sony"], variants=["sid_net"], train={"epochs": 1})
    config["report"]["figure_variants"] = ["sid_net"]
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    summary = "results/sid-synth/Sony/sid_net/seed0/summary.json"
    metrics = tmp_path / summary.replace("summary.json", "metrics.csv")
    first = snakemake(tmp_path, summary)
    assert first.returncode == 0, first.stderr[-2000:]
    measured = measured_metrics(metrics)
    manifest = load_manifest(tmp_path / "cache/sid-synth/Sony")
    test_gt = manifest["entries"][manifest["splits"]["test"][0]["long"]]
    array = tmp_path / "cache/sid-synth/Sony" / test_gt["array"]
    good = array.read_bytes()
    array.write_bytes(good[:200] + bytes(len(good) - 200))  # same size, zeros
    before = snapshot(tmp_path)

    dry = snakemake(tmp_path, "-n", summary)

    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
    assert snapshot(tmp_path) == before  # building the DAG wrote nothing
    again = snakemake(tmp_path, "--forcerun", "evaluate", summary)
    assert again.returncode == 0, again.stderr[-2000:]
    log = (tmp_path / "logs/sid-synth/evaluate_Sony_sid_net_seed0.log").read_text()
    assert f"{array.relative_to(tmp_path)}:" in log and "rebuilt from" in log
    assert array.read_bytes() == good
    assert measured_metrics(metrics) == measured  # evaluated on the bytes it was packed into

"""The cache's integrity guarantee (gianet/data/verify.py): every array verified once after
it is written and again whenever its file changes; a damaged array is rebuilt by the
verify_cache job in the run that needs it, or named with the fix; a raw changed since packing
is named; and building the DAG changes no file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gianet.cli import main
from gianet.data.arrays import open_array
from gianet.data.lists import Pair
from gianet.data.manifest import CacheError, load_manifest
from gianet.data.verify import check_cache, read_state, verify_cache
from gianet.paths import SPLITS
from tests.conftest import repo_params

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
    """A private copy of the packed cache (same dataset root), as pack left it."""
    root, original = packed
    copy = tmp_path / "cache"
    shutil.copytree(original, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for meta in manifest["entries"].values():  # the copy's arrays are new files
        meta["array_fingerprint"] = list(stat(copy / meta["array"]))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return root, copy


def stat(path: Path) -> tuple[int, int, int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns


def gt_entry(cache_dir: Path) -> tuple[dict, Path]:
    manifest = load_manifest(cache_dir)
    meta = next(m for m in manifest["entries"].values() if m["kind"] == "gt")
    return meta, cache_dir / meta["array"]


def every_pair(manifest: dict) -> list[Pair]:
    return [Pair(**p) for split in SPLITS for p in manifest["splits"][split]]


def test_a_sound_cache_verifies_without_reading_an_array(cache):
    root, cache_dir = cache
    state = cache_dir / "verified.json"
    assert verify_cache(cache_dir, state, record=root / "Sony_sources.tsv", progress=False) == []
    manifest = load_manifest(cache_dir)
    assert set(read_state(state)) == {meta["array"] for meta in manifest["entries"].values()}
    check_cache(cache_dir, state, manifest, every_pair(manifest))


def test_same_size_garbage_is_rebuilt_by_verification(cache):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    good = array.read_bytes()
    array.write_bytes(good[:200] + bytes(len(good) - 200))  # same size, zeros
    state = cache_dir / "verified.json"
    rebuilt = verify_cache(cache_dir, state, record=root / "Sony_sources.tsv", progress=False)
    assert len(rebuilt) == 1 and "its sha256" in rebuilt[0] and meta["source"] in rebuilt[0]
    assert array.read_bytes() == good
    assert read_state(state)[meta["array"]] == list(stat(array))


def test_a_job_refuses_an_array_damaged_without_moving_its_time(cache):
    root, cache_dir = cache
    state = cache_dir / "verified.json"
    verify_cache(cache_dir, state, record=root / "Sony_sources.tsv", progress=False)
    _, array = gt_entry(cache_dir)
    times = array.stat()
    data = bytearray(array.read_bytes())
    data[5000] ^= 0xFF
    array.write_bytes(bytes(data))
    os.utime(array, ns=(times.st_atime_ns, times.st_mtime_ns))  # mtime put back
    manifest = load_manifest(cache_dir)
    with pytest.raises(CacheError) as error:
        check_cache(cache_dir, state, manifest, every_pair(manifest))
    assert str(array) in str(error.value) and "verify_cache" in str(error.value)


def test_a_truncated_array_is_one_clear_error(cache):
    _, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    array.write_bytes(array.read_bytes()[:-10])
    with pytest.raises(CacheError) as error:
        open_array(cache_dir, meta)
    assert "truncated" in str(error.value) or "holds" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_raw_changed_since_packing_is_named_with_the_fix(cache):
    root, cache_dir = cache
    manifest = load_manifest(cache_dir)
    meta, _ = gt_entry(cache_dir)
    source = root / meta["source"]
    original = source.read_bytes()
    try:
        source.write_bytes(original)  # rewritten: new fingerprint
        with pytest.raises(CacheError) as error:
            check_cache(cache_dir, cache_dir / "verified.json", manifest, every_pair(manifest))
        assert str(source) in str(error.value) and "--forcerun pack" in str(error.value)
    finally:
        source.write_bytes(original)


def test_a_damaged_entry_whose_source_is_gone_is_named_with_the_fix(cache):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    array.write_bytes(b"\x93NUMPY garbage")
    (root / meta["source"]).rename(root / "moved-away.dng")
    try:
        with pytest.raises(CacheError) as error:
            verify_cache(cache_dir, cache_dir / "v.json", record=root / "Sony_sources.tsv")
    finally:
        (root / "moved-away.dng").rename(root / meta["source"])
    assert meta["source"] in str(error.value) and "cannot be rebuilt" in str(error.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "cannot read the cache manifest"),
        (b"\xff\xfe{}", "cannot read the cache manifest"),
        (b"[]", "not a JSON object"),
        (b'{"entries": {}, "splits": {"test": []}}', "split 'test' is not a non-empty list"),
        (b'{"entries": {"a": {"array": "../../x.npy", "shape": [1, 1, 1]}}, "splits": {}}', None),
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


@pytest.mark.slow
def test_snakemake_repairs_a_damaged_cache_in_one_run_and_a_dry_run_changes_nothing(tmp_path):
    config = {
        "cameras": ["Sony"],
        "variants": ["sid_net"],
        "synth": {"height": 192, "width": 192, "scenes": {"train": 1, "val": 1, "test": 1}},
        "train": {"patch": 64},
        "report": {"figure_variants": ["sid_net"]},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    target = "cache/sid-synth/Sony/verified.json"
    assert snakemake(tmp_path, target).returncode == 0
    _, array = gt_entry(tmp_path / "cache/sid-synth/Sony")
    good = array.read_bytes()
    array.write_bytes(good[:200] + bytes(len(good) - 200))  # same size, zeros
    before = snapshot(tmp_path)

    dry = snakemake(tmp_path, "-n", target)

    said = dry.stdout + dry.stderr
    assert dry.returncode == 0 and "rule verify_cache:" in said and "rule synth:" not in said
    assert snapshot(tmp_path) == before  # building the DAG wrote nothing
    run = snakemake(tmp_path, target)
    assert run.returncode == 0, run.stderr[-2000:]
    assert array.read_bytes() == good
    again = snakemake(tmp_path, "-n", target)
    assert "Nothing to be done" in again.stdout + again.stderr

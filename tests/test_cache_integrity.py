"""The packed cache records each array's content; pack, training/evaluation and the workflow
check it: a damaged array is rebuilt by `gianet pack` or named with the fix, and Snakemake
reruns pack for a damaged cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from gianet.cli import main
from gianet.data.cache import (
    DAMAGED_SUFFIX,
    SAMPLE_BLOCKS,
    SAMPLE_BYTES,
    CacheError,
    load_manifest,
    open_array,
    retire_if_damaged,
    verify_cache,
)
from gianet.fetch.checksums import sha256_of
from gianet.paths import SPLITS
from gianet.synth.generate import generate_dataset

REPO = Path(__file__).parents[1]


def pack_args(root: Path, cache: Path, *extra: str) -> list[str]:
    lists = [str(root / f"Sony_{split}_list.txt") for split in SPLITS]
    manifest = str(cache / "manifest.json")
    return ["pack", "--camera", "Sony", "--lists", *lists, "--manifest", manifest, *extra]


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny sid-synth Sony dataset (192 x 192 raws) and its cache, packed once."""
    folder = tmp_path_factory.mktemp("integrity")
    root, cache = folder / "data", folder / "cache"
    scenes = {"train": 1, "val": 1, "test": 1}
    generate_dataset(root, "Sony", scenes=scenes, height=192, width=192, ratios=(100,),
                     shorts_per_scene=1, seed=0, progress=False)  # fmt: skip
    assert main(pack_args(root, cache)) == 0
    return root, cache


@pytest.fixture()
def cache(packed, tmp_path) -> tuple[Path, Path]:
    """A private copy of the packed cache (same dataset root)."""
    root, original = packed
    copy = tmp_path / "cache"
    shutil.copytree(original, copy)
    return root, copy


def gt_entry(cache_dir: Path) -> tuple[dict, Path]:
    manifest = load_manifest(cache_dir)
    meta = next(m for m in manifest["entries"].values() if m["kind"] == "gt")
    return meta, cache_dir / meta["array"]


def test_every_entry_records_its_arrays_content(packed):
    _, cache_dir = packed
    manifest = load_manifest(cache_dir)
    assert len(manifest["entries"]) == 6
    for meta in manifest["entries"].values():
        array = cache_dir / meta["array"]
        assert meta["array_sha256"] == sha256_of(array)
        assert meta["array_bytes"] == array.stat().st_size
        assert len(meta["array_sample"]) == 64
    assert verify_cache(cache_dir) == [] and verify_cache(cache_dir, full=True) == []


def test_same_size_garbage_is_caught_when_opened_and_rebuilt_by_pack(cache, capsys):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    good = array.read_bytes()
    header = len(good) - np.prod(meta["shape"]) * 2
    array.write_bytes(good[:header] + np.random.default_rng(1).bytes(len(good) - header))

    with pytest.raises(CacheError, match="differs from the content the manifest records") as raised:
        open_array(cache_dir, meta)
    assert str(array) in str(raised.value) and "gianet pack" in str(raised.value)

    assert main(pack_args(root, cache_dir)) == 0
    assert array.read_bytes() == good and open_array(cache_dir, meta).shape == tuple(meta["shape"])


def test_a_truncated_array_is_one_clear_error_then_rebuilt(cache):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    good = array.read_bytes()
    array.write_bytes(good[: len(good) // 2])

    with pytest.raises(CacheError, match=f"holds {len(good) // 2} bytes, the manifest records"):
        open_array(cache_dir, meta)
    problems = verify_cache(cache_dir)
    assert len(problems) == 1 and str(array) in problems[0]

    assert main(pack_args(root, cache_dir)) == 0
    assert array.read_bytes() == good


def test_full_check_catches_what_sampling_misses(cache):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    good = array.read_bytes()
    assert len(good) > SAMPLE_BLOCKS * SAMPLE_BYTES
    data = bytearray(good)
    data[SAMPLE_BYTES + 1000] ^= 0xFF  # between the first two sampled blocks
    array.write_bytes(bytes(data))

    assert verify_cache(cache_dir) == []  # the fast check does not read that byte
    assert "its sha256" in verify_cache(cache_dir, full=True)[0]
    mtime = array.stat().st_mtime_ns
    assert main(pack_args(root, cache_dir)) == 0
    assert array.stat().st_mtime_ns == mtime  # fast: reused
    assert main(pack_args(root, cache_dir, "--verify", "full")) == 0
    assert array.read_bytes() == good


def test_a_damaged_entry_whose_source_is_gone_is_named_with_the_fix(cache, capsys):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    array.write_bytes(b"\x93NUMPY garbage")
    (root / meta["source"]).rename(root / "moved-away.dng")
    try:
        assert main(pack_args(root, cache_dir)) == 2
    finally:
        (root / "moved-away.dng").rename(root / meta["source"])
    error = capsys.readouterr().err
    assert meta["source"] in error and "does not exist" in error and "Traceback" not in error


def test_entries_packed_before_content_records_are_adopted_without_decoding(cache):
    root, cache_dir = cache
    meta, array = gt_entry(cache_dir)
    sidecar = array.with_suffix(".json")
    old = {k: v for k, v in json.loads(sidecar.read_text()).items() if not k.startswith("array_")}
    sidecar.write_text(json.dumps(old | {"array": meta["array"]}))
    mtime = array.stat().st_mtime_ns

    assert main(pack_args(root, cache_dir)) == 0

    assert array.stat().st_mtime_ns == mtime
    assert json.loads(sidecar.read_text())["array_sha256"] == meta["array_sha256"]


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


def test_a_damaged_cache_retires_its_manifest(cache):
    _, cache_dir = cache
    manifest = cache_dir / "manifest.json"
    assert retire_if_damaged(manifest) == [] and manifest.exists()
    _, array = gt_entry(cache_dir)
    array.write_bytes(array.read_bytes()[:-10])

    problems = retire_if_damaged(manifest)

    assert len(problems) == 1 and not manifest.exists()
    assert manifest.with_name("manifest.json" + DAMAGED_SUFFIX).exists()


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "1",
               *args, "--configfile", "tiny.yaml"]  # fmt: skip
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_snakemake_reruns_pack_for_a_damaged_cache_once(tmp_path):
    config = {
        "cameras": ["Sony"],
        "variants": ["sid_net"],
        "synth": {"height": 192, "width": 192, "scenes": {"train": 1, "val": 1, "test": 1}},
        "train": {"patch": 64},
        "report": {"figure_variants": ["sid_net"]},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    target = "cache/sid-synth/Sony/manifest.json"
    assert snakemake(tmp_path, target).returncode == 0
    _, array = gt_entry(tmp_path / "cache/sid-synth/Sony")
    good = array.read_bytes()
    array.write_bytes(good[:200] + bytes(len(good) - 200))  # same size, zeros

    dry = snakemake(tmp_path, "-n", target)

    said = dry.stdout + dry.stderr
    assert dry.returncode == 0 and "rule pack:" in said and "rule synth:" not in said
    assert "the Sony cache is damaged" in said and str(array.name) in said
    run = snakemake(tmp_path, target)
    assert run.returncode == 0, run.stderr[-2000:]
    assert array.read_bytes() == good
    assert not (tmp_path / (target + DAMAGED_SUFFIX)).exists()
    again = snakemake(tmp_path, "-n", target)
    assert "Nothing to be done" in again.stdout + again.stderr

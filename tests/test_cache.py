"""The packed cache: one decode per file, fresh entries reused, failures isolated."""

import json
import shutil

import numpy as np
import pytest

from gianet.data.cache import CacheError, build_cache, load_manifest, open_array
from gianet.data.lists import parse_list
from gianet.data.raw import pack, read_mosaic
from tests.conftest import COLORCHART


@pytest.fixture()
def small_dataset(tmp_path):
    """Two SID-named pairs made of the real colorchart.dng (1156 x 1734 RGGB)."""
    root = tmp_path / "data"
    for folder in ("Sony/short", "Sony/long"):
        (root / folder).mkdir(parents=True)
    source = COLORCHART
    for name in ("short/00001_00_0.1s.dng", "short/00001_01_0.04s.dng", "long/00001_00_10s.dng"):
        shutil.copy(source, root / "Sony" / name)
    (root / "Sony_train_list.txt").write_text(
        "./Sony/short/00001_00_0.1s.dng ./Sony/long/00001_00_10s.dng ISO200 F8\n"
        "./Sony/short/00001_01_0.04s.dng ./Sony/long/00001_00_10s.dng ISO200 F8\n"
    )
    return root


def test_cache_holds_packed_inputs_and_ground_truth_memory_mapped(small_dataset, tmp_path):
    pairs = parse_list(small_dataset / "Sony_train_list.txt", small_dataset)
    cache = tmp_path / "cache"
    build_cache(small_dataset, {"train": pairs}, cache, progress=False)
    manifest = load_manifest(cache)
    assert len(manifest["entries"]) == 3 and len(manifest["splits"]["train"]) == 2
    short = manifest["entries"]["Sony/short/00001_00_0.1s.dng"]
    packed = open_array(cache, short)
    assert isinstance(packed, np.memmap) and packed.dtype == np.uint16
    expected, scale = pack(read_mosaic(small_dataset / "Sony/short/00001_00_0.1s.dng"))
    assert np.array_equal(packed, expected) and short["scale"] == scale.tolist()
    assert short["black"] == [2056.0] * 4 and short["white"] == 15000
    gt = open_array(cache, manifest["entries"]["Sony/long/00001_00_10s.dng"])
    assert gt.dtype == np.uint16 and gt.shape == (3, 1156, 1734)
    assert len(short["sha256"]) == 64


def test_fresh_entries_are_reused_and_changed_sources_rebuilt(small_dataset, tmp_path):
    pairs = parse_list(small_dataset / "Sony_train_list.txt", small_dataset)
    cache = tmp_path / "cache"
    build_cache(small_dataset, {"train": pairs}, cache, progress=False)
    array = cache / "inputs" / "00001_00_0.1s.npy"
    array_mtime = array.stat().st_mtime_ns
    build_cache(small_dataset, {"train": pairs}, cache, progress=False)
    assert array.stat().st_mtime_ns == array_mtime  # not decoded again
    source = small_dataset / "Sony/short/00001_00_0.1s.dng"
    source.write_bytes(source.read_bytes())  # same bytes, new mtime: re-decoded
    build_cache(small_dataset, {"train": pairs}, cache, progress=False)
    assert array.stat().st_mtime_ns != array_mtime
    np.save(array, np.zeros((4, 2, 2), np.uint16))  # a corrupt entry of the wrong shape
    build_cache(small_dataset, {"train": pairs}, cache, progress=False)
    assert np.load(array).shape == (4, 578, 867)


def test_levels_are_recorded_and_a_change_of_levels_repacks_the_inputs(small_dataset, tmp_path):
    pairs = parse_list(small_dataset / "Sony_train_list.txt", small_dataset)
    cache = tmp_path / "cache"
    record = {"test_exposures": "all", "exclude_scenes": [10034]}
    build_cache(small_dataset, {"train": pairs}, cache, progress=False, protocol=record)
    assert load_manifest(cache)["protocol"] == {"levels": "file", **record}
    array, gt = cache / "inputs" / "00001_00_0.1s.npy", cache / "gt" / "00001_00_10s.npy"
    before = np.load(array)
    times = array.stat().st_mtime_ns, gt.stat().st_mtime_ns
    build_cache(small_dataset, {"train": pairs}, cache, progress=False, levels="sid")
    manifest = load_manifest(cache)
    short = manifest["entries"]["Sony/short/00001_00_0.1s.dng"]
    assert manifest["protocol"] == {"levels": "sid"}
    assert short["levels"] == "sid" and short["black"] == [512.0] * 4 and short["white"] == 16383
    assert array.stat().st_mtime_ns != times[0] and gt.stat().st_mtime_ns == times[1]
    # colorchart's black is 2056: SID's 512 leaves 1544 more above black everywhere unclipped.
    after = np.load(array)
    assert np.array_equal(after[before > 0], before[before > 0] + 1544)


def test_bad_file_is_reported_and_every_good_file_stays_cached(small_dataset, tmp_path):
    broken = small_dataset / "Sony/short/00001_01_0.04s.dng"
    broken.write_bytes(broken.read_bytes()[:500_000])
    pairs = parse_list(small_dataset / "Sony_train_list.txt", small_dataset)
    cache = tmp_path / "cache"
    with pytest.raises(CacheError) as error:
        build_cache(small_dataset, {"train": pairs}, cache, progress=False)
    assert "00001_01_0.04s.dng" in str(error.value) and "truncated" in str(error.value)
    assert (cache / "inputs" / "00001_00_0.1s.npy").exists()
    assert (cache / "gt" / "00001_00_10s.npy").exists()
    assert not (cache / "manifest.json").exists()
    meta = json.loads((cache / "inputs" / "00001_00_0.1s.json").read_text())
    assert meta["pattern"] == "RGGB"

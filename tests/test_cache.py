"""Packing: one decode per file, checked against the dataset record; fresh entries reused,
failures isolated."""

import json
import shutil

import numpy as np
import pytest

from gianet.data.arrays import open_array
from gianet.data.cache import build_cache
from gianet.data.lists import parse_list
from gianet.data.manifest import CacheError, load_manifest
from gianet.data.raw import pack, read_mosaic
from gianet.data.sources import record_sources
from gianet.data.verified import FINGERPRINTS, read_state
from gianet.fetch.checksums import stat_fingerprint
from tests.conftest import COLORCHART

TRAIN = "Sony_train_list.txt"


@pytest.fixture()
def small_dataset(tmp_path):
    """Two SID-named pairs made of the real colorchart.dng (1156 x 1734 RGGB), with their
    lists (the same list for all three splits) and their record."""
    root = tmp_path / "data"
    for folder in ("Sony/short", "Sony/long"):
        (root / folder).mkdir(parents=True)
    for name in ("short/00001_00_0.1s.dng", "short/00001_01_0.04s.dng", "long/00001_00_10s.dng"):
        shutil.copy(COLORCHART, root / "Sony" / name)
    listed = (
        "./Sony/short/00001_00_0.1s.dng ./Sony/long/00001_00_10s.dng ISO200 F8\n"
        "./Sony/short/00001_01_0.04s.dng ./Sony/long/00001_00_10s.dng ISO200 F8\n"
    )
    for split in ("train", "val", "test"):
        (root / f"Sony_{split}_list.txt").write_text(listed)
    record_sources(root, "Sony", root / "Sony_sources.tsv", progress=False)
    return root


def pack_into(root, cache, **options):
    pairs = parse_list(root / TRAIN, root)
    options = {"levels": "file", "progress": False} | options
    return build_cache(root, {"train": pairs}, cache, record=root / "Sony_sources.tsv", **options)


def test_cache_holds_packed_inputs_and_ground_truth_memory_mapped(small_dataset, tmp_path):
    cache = tmp_path / "cache"
    pack_into(small_dataset, cache)
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
    # The manifest records each file's content; the fingerprints they were checked at are
    # local state (verified.json), so packing again writes the same manifest.
    assert len(short["source_sha256"]) == 64 and len(short["array_sha256"]) == 64
    assert not set(FINGERPRINTS) & set(short)
    state = read_state(cache / "verified.json")
    assert state["arrays"][short["array"]] == stat_fingerprint(cache / short["array"], changes=True)
    assert state["sources"][short["source"]] == stat_fingerprint(small_dataset / short["source"])
    before = (cache / "manifest.json").read_bytes()
    (cache / "inputs" / "00001_00_0.1s.npy").unlink()
    pack_into(small_dataset, cache)
    assert (cache / "manifest.json").read_bytes() == before


def test_fresh_entries_are_reused_and_changed_ones_rebuilt(small_dataset, tmp_path):
    cache = tmp_path / "cache"
    pack_into(small_dataset, cache)
    array = cache / "inputs" / "00001_00_0.1s.npy"
    array_mtime = array.stat().st_mtime_ns
    pack_into(small_dataset, cache)
    assert array.stat().st_mtime_ns == array_mtime  # not decoded again
    source = small_dataset / "Sony/short/00001_00_0.1s.dng"
    source.write_bytes(source.read_bytes())  # same bytes, new fingerprint: checked, decoded
    pack_into(small_dataset, cache)
    assert array.stat().st_mtime_ns != array_mtime
    np.save(array, np.zeros((4, 2, 2), np.uint16))  # a corrupt entry of the wrong shape
    pack_into(small_dataset, cache)
    assert np.load(array).shape == (4, 578, 867)


def test_same_size_damage_of_an_array_is_rebuilt_when_its_fingerprint_moved(
    small_dataset, tmp_path
):
    cache = tmp_path / "cache"
    pack_into(small_dataset, cache)
    array = cache / "gt" / "00001_00_10s.npy"
    good = array.read_bytes()
    array.write_bytes(good[:200] + bytes(len(good) - 200))  # same size, zeros, new mtime
    pack_into(small_dataset, cache)
    assert array.read_bytes() == good


def test_levels_are_recorded_and_a_change_of_levels_repacks_the_inputs(small_dataset, tmp_path):
    cache = tmp_path / "cache"
    pack_into(small_dataset, cache)
    assert load_manifest(cache)["protocol"] == {"levels": "file"}
    array, gt = cache / "inputs" / "00001_00_0.1s.npy", cache / "gt" / "00001_00_10s.npy"
    before = np.load(array)
    times = array.stat().st_mtime_ns, gt.stat().st_mtime_ns
    pack_into(small_dataset, cache, levels="sid")
    manifest = load_manifest(cache)
    short = manifest["entries"]["Sony/short/00001_00_0.1s.dng"]
    assert manifest["protocol"] == {"levels": "sid"}
    assert short["levels"] == "sid" and short["black"] == [512.0] * 4 and short["white"] == 16383
    assert array.stat().st_mtime_ns != times[0] and gt.stat().st_mtime_ns == times[1]
    # colorchart's black is 2056: SID's 512 leaves 1544 more above black everywhere unclipped.
    after = np.load(array)
    assert np.array_equal(after[before > 0], before[before > 0] + 1544)


def test_a_source_that_differs_from_the_record_stops_packing_naming_it(small_dataset, tmp_path):
    cache = tmp_path / "cache"
    pack_into(small_dataset, cache)
    array = cache / "inputs" / "00001_01_0.04s.npy"
    kept = array.read_bytes()
    replaced = small_dataset / "Sony/short/00001_01_0.04s.dng"
    data = bytearray(replaced.read_bytes())
    data[-1] ^= 0xFF  # another file than the dataset was made with
    replaced.write_bytes(bytes(data))
    with pytest.raises(CacheError) as error:
        pack_into(small_dataset, cache)
    message = str(error.value)
    assert "Sony/short/00001_01_0.04s.dng: its content differs from the dataset record" in message
    assert "Restore it" in message and array.read_bytes() == kept  # nothing of it written


def test_bad_file_is_reported_and_every_good_file_stays_cached(small_dataset, tmp_path):
    broken = small_dataset / "Sony/short/00001_01_0.04s.dng"
    broken.write_bytes(broken.read_bytes()[:500_000])
    record_sources(small_dataset, "Sony", small_dataset / "Sony_sources.tsv", progress=False)
    cache = tmp_path / "cache"
    with pytest.raises(CacheError) as error:
        pack_into(small_dataset, cache)
    assert "00001_01_0.04s.dng" in str(error.value) and "truncated" in str(error.value)
    assert (cache / "inputs" / "00001_00_0.1s.npy").exists()
    assert (cache / "gt" / "00001_00_10s.npy").exists()
    assert not (cache / "manifest.json").exists()
    meta = json.loads((cache / "inputs" / "00001_00_0.1s.json").read_text())
    assert meta["pattern"] == "RGGB"

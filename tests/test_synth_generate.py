"""generate_dataset: SID's layout and list format, physically consistent pairs, determinism,
atomic writes and clear errors."""

import hashlib
import re
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import rawpy

from gianet import atomic
from gianet.synth import generate_dataset
from gianet.synth.cameras import XTRANS_PATTERN

SPLITS = {"train": 2, "val": 1, "test": 1}
SPLIT_DIGIT = {"train": "0", "test": "1", "val": "2"}
LIST_ROW = re.compile(
    r"^\./(?P<cam>Sony|Fuji)/short/(?P<id>\d{5})_(?P<k>\d{2})_(?P<t>[\d.]+)s\.dng "
    r"\./(?P=cam)/long/(?P=id)_00_10s\.(?P<gt>dng|tif) ISO(?P<iso>\d+) F(?P<f>[\d.]+)$"
)


def _generate(root: Path, camera: str = "Sony", **overrides) -> dict:
    arguments = dict(scenes=SPLITS, height=48, width=72, shorts_per_scene=2, seed=3, progress=False)
    arguments.update(overrides)
    return generate_dataset(root, camera, **arguments)


def _list_rows(root: Path, camera: str) -> dict[str, list[re.Match]]:
    rows = {}
    for split in SPLITS:
        lines = (root / f"{camera}_{split}_list.txt").read_text().splitlines()
        rows[split] = [LIST_ROW.match(line) for line in lines]
        assert all(rows[split]), lines
    return rows


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def sony(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sony")
    return root, _generate(root)


def test_lists_follow_sid_format_and_name_every_file_written(sony):
    root, manifest = sony
    rows = _list_rows(root, "Sony")
    referenced = set()
    for split, matches in rows.items():
        assert len(matches) == SPLITS[split] * 2
        for match in matches:
            assert match["id"][0] == SPLIT_DIGIT[split] and match["gt"] == "dng"
            referenced |= {match.group(0).split()[0][2:], match.group(0).split()[1][2:]}
    written = {p for p in _hashes(root) if p.startswith("Sony/")}
    assert written == referenced  # nothing missing, nothing extra, no *.part leftovers
    assert set(_hashes(root)) - written == {
        "Sony_train_list.txt",
        "Sony_val_list.txt",
        "Sony_test_list.txt",
        "Sony_synth_manifest.json",
    }
    recorded = {
        name: digest
        for s in manifest["scenes"].values()
        for r in s
        for name, digest in r["files"].items()
    }
    assert recorded == {name: digest for name, digest in _hashes(root).items() if name in written}


def test_ratio_read_from_names_as_sid_does_matches_the_simulated_ratio(sony):
    root, manifest = sony
    rows = _list_rows(root, "Sony")
    for split, matches in rows.items():
        simulated = [ratio for record in manifest["scenes"][split] for ratio in record["ratios"]]
        from_names = [min(10 / float(m["t"]), 300) for m in matches]
        assert from_names == pytest.approx(simulated, abs=1e-9)
    all_ratios = {
        r for records in manifest["scenes"].values() for rec in records for r in rec["ratios"]
    }
    assert all_ratios == {100, 250, 300}


def test_short_exposure_times_ratio_matches_the_long_exposure(sony):
    root, _ = sony
    for match in _list_rows(root, "Sony")["train"]:
        with rawpy.imread(str(root / match.group(0).split()[0])) as raw:
            assert raw.raw_pattern.tolist() == [[0, 1], [3, 2]]
            assert raw.black_level_per_channel == [512] * 4
            short = raw.raw_image.astype(np.float64) - 512
        with rawpy.imread(str(root / match.group(0).split()[1])) as raw:
            long = raw.raw_image.astype(np.float64) - 512
        unclipped = long < 16383 - 512 - 1
        ratio = min(10 / float(match["t"]), 300)
        assert long.std() > 100  # a scene, not a flat frame
        assert short[unclipped].mean() * ratio == pytest.approx(long[unclipped].mean(), rel=0.1)
        assert np.abs(short * ratio - long).mean() > 0.05 * long.mean()  # and noisy


def test_same_seed_gives_byte_identical_files_and_scenes_do_not_depend_on_split_sizes(
    tmp_path, sony
):
    root, _ = sony
    _generate(tmp_path / "again")
    assert _hashes(tmp_path / "again") == _hashes(root)
    _generate(tmp_path / "other_seed", seed=4)
    assert (
        _hashes(tmp_path / "other_seed")["Sony/long/00001_00_10s.dng"]
        != _hashes(root)["Sony/long/00001_00_10s.dng"]
    )
    _generate(tmp_path / "smaller", scenes={"train": 1})
    smaller = _hashes(tmp_path / "smaller")
    assert smaller["Sony/long/00001_00_10s.dng"] == _hashes(root)["Sony/long/00001_00_10s.dng"]
    assert (tmp_path / "smaller" / "Sony_val_list.txt").read_text() == ""


def test_fuji_writes_xtrans_dngs_and_a_16_bit_ground_truth_like_rawpy(tmp_path):
    root = tmp_path / "fuji"
    _generate(root, "Fuji", scenes={"train": 1, "val": 0, "test": 1})
    rows = _list_rows(root, "Fuji")
    for match in rows["train"] + rows["test"]:
        short, ground_truth = (root / part for part in match.group(0).split()[:2])
        assert match["gt"] == "tif"
        with rawpy.imread(str(short)) as raw:
            assert np.array_equal(raw.raw_pattern, XTRANS_PATTERN)
            assert raw.black_level_per_channel == [1024] * 4
        rendered = iio.imread(ground_truth)
        assert rendered.dtype == np.uint16 and rendered.shape == (48, 72, 3)
        with rawpy.imread(str(ground_truth.with_suffix(".dng"))) as raw:
            by_rawpy = raw.postprocess(
                use_camera_wb=True,
                no_auto_bright=True,
                output_bps=16,
                demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR,
            )
        difference = np.abs(rendered.astype(np.float64) - by_rawpy)[6:-6, 6:-6]
        assert np.median(difference) < 0.02 * 65535


def test_progress_bar_is_shown_on_request(tmp_path, capsys):
    _generate(tmp_path, scenes={"train": 1}, shorts_per_scene=1, progress=True)
    assert "sid-synth Sony" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("camera", "overrides", "message"),
    [
        ("Canon", {}, r"camera='Canon' is unknown; use one of \['Fuji', 'Sony'\]"),
        ("Fuji", {"height": 50}, r"height=50 must be a positive multiple .* 6; use 48"),
        ("Sony", {"width": 71}, r"width=71 must be a positive multiple .* 2; use 70"),
        ("Sony", {"ratios": (100, 200)}, r"ratios=\(100, 200\) must be a non-empty choice"),
        ("Sony", {"scenes": {"dev": 1}}, r"scenes has unknown splits \['dev'\]"),
        ("Sony", {"shorts_per_scene": 0}, r"shorts_per_scene=0 must be in \[1, 100\]"),
    ],
)
def test_bad_arguments_name_the_argument_and_the_fix(tmp_path, camera, overrides, message):
    with pytest.raises(ValueError, match=message):
        _generate(tmp_path, camera, **overrides)
    assert not any(tmp_path.iterdir())  # checked before anything is written


def test_failed_write_leaves_the_old_file_and_no_partial_file(tmp_path):
    path = tmp_path / "file.dng"
    atomic.write_bytes(path, b"complete")
    with pytest.raises(TypeError):
        atomic.write_bytes(path, object())  # fails while writing
    assert path.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["file.dng"]

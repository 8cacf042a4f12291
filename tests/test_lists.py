from importlib import resources

import pytest

from gianet.data.lists import ListError, Selection, exposure_ratio, parse_list
from gianet.settings import load_params


def shipped_list(name):
    return resources.files("gianet.data").joinpath("sid_lists", name)


@pytest.mark.parametrize(
    ("name", "pairs", "scenes"),
    [
        ("Sony_train_list.txt", 1865, 161),
        ("Sony_test_list.txt", 598, 50),
        ("Sony_val_list.txt", 234, 20),
        ("Fuji_train_list.txt", 1655, 135),
        ("Fuji_test_list.txt", 524, 41),
        ("Fuji_val_list.txt", 218, 17),
    ],
)
def test_real_sid_lists_parse_with_their_published_sizes(name, pairs, scenes):
    parsed = parse_list(shipped_list(name))
    assert len(parsed) == pairs
    assert len({p.scene for p in parsed}) == scenes
    split_digit = {"train": 0, "test": 1, "val": 2}[name.split("_")[1]]
    assert {p.scene // 10000 for p in parsed} == {split_digit}
    assert all(1 <= p.ratio <= 300 for p in parsed)


@pytest.mark.parametrize(
    ("short", "expected"),
    [("00001_00_0.1s.ARW", 100.0), ("00001_00_0.04s.ARW", 250.0), ("00001_00_0.033s.ARW", 300.0)],
)
def test_exposure_ratio_follows_sid_code_with_clip_at_300(short, expected):
    assert exposure_ratio(short, "00001_00_10s.ARW") == pytest.approx(expected)


def test_ratio_uses_the_long_exposure_time():
    # Some SID scenes have 30 s ground truth: 30 / 0.1 = 300.
    assert exposure_ratio("10022_00_0.1s.ARW", "10022_00_30s.ARW") == pytest.approx(300.0)


def test_test_protocol_excludes_misaligned_scenes_and_keeps_first_shots():
    pairs = parse_list(shipped_list("Sony_test_list.txt"))
    misaligned = [10034, 10045, 10172]
    first = Selection(exposures="first", exclude_scenes=misaligned).apply(pairs)
    assert {p.shot for p in first} == {0}
    assert not {10034, 10045, 10172} & {p.scene for p in first}
    everything = Selection(exposures="all", exclude_scenes=[]).apply(pairs)
    assert len(everything) == len(pairs)
    assert len(first) < len(Selection(exposures="all", exclude_scenes=misaligned).apply(pairs))


@pytest.mark.parametrize("config", ["params.yaml", "configs/paper.yaml"])
def test_each_camera_drops_only_its_own_misaligned_scenes_and_all_keeps_every_shot(config):
    """Sony drops SID's three misaligned scenes; Fuji keeps its (valid) scene 10172; with all
    exposures every other test pair of the list is evaluated (the paper's protocol)."""
    params = load_params("params.yaml", [config] if config != "params.yaml" else [])
    excluded = params.sid.exclude_scenes
    assert excluded == {"Sony": [10034, 10045, 10172], "Fuji": []}
    counts = {}
    for camera in ("Sony", "Fuji"):
        pairs = parse_list(shipped_list(f"{camera}_test_list.txt"))
        exposures = params.evaluate.test_exposures[camera]
        assert exposures == "all"
        tested = Selection(exposures=exposures, exclude_scenes=excluded[camera]).apply(pairs)
        assert tested == [p for p in pairs if p.scene not in excluded[camera]]
        counts[camera] = len(tested), len({p.scene for p in tested})
        first = Selection(exposures="first", exclude_scenes=excluded[camera]).apply(pairs)
        counts[camera] += (len(first),)
    # Sony: 598 pairs (93 _00) in 50 scenes; the three misaligned scenes hold 36 (5 _00).
    assert counts["Sony"] == (598 - 36, 47, 93 - 5)
    assert counts["Fuji"] == (524, 41, 94)  # all of SID's Fuji test pairs, 10172's included
    fuji = parse_list(shipped_list("Fuji_test_list.txt"))
    assert sum(p.scene == 10172 for p in fuji) > 0


def test_missing_files_are_all_named_with_list_and_line(tmp_path):
    (tmp_path / "Sony" / "long").mkdir(parents=True)
    (tmp_path / "Sony" / "long" / "00001_00_10s.ARW").write_bytes(b"x")
    listing = tmp_path / "Sony_train_list.txt"
    listing.write_text(
        "./Sony/short/00001_00_0.1s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8\n"
        "./Sony/short/00001_01_0.1s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8\n"
    )
    with pytest.raises(ListError) as error:
        parse_list(listing, root=tmp_path)
    message = str(error.value)
    assert f"{listing}:1: Sony/short/00001_00_0.1s.ARW does not exist" in message
    assert f"{listing}:2: Sony/short/00001_01_0.1s.ARW does not exist" in message


def test_malformed_lines_are_reported(tmp_path):
    listing = tmp_path / "Sony_val_list.txt"
    listing.write_text("./Sony/short/photo.ARW ./Sony/long/00001_00_10s.ARW\nonly_one_field\n")
    with pytest.raises(ListError, match=r"Sony_val_list.txt:1: .*SCENE_SHOT_SECONDS") as error:
        parse_list(listing)
    assert "Sony_val_list.txt:2: expected 'SHORT LONG" in str(error.value)


def test_pair_counts_of_sids_released_model_scores():
    """The protocols the released models' published scores use (cydonia999's port of SID):
    all 598 Sony / 524 Fuji test pairs and the 93 / 94 ``_00`` ones, no scene excluded; and
    the paper configuration's, Sony's three misaligned scenes out: 562 / 524, ``_00`` 88 / 94."""
    counts = {}
    for camera in ("Sony", "Fuji"):
        pairs = parse_list(shipped_list(f"{camera}_test_list.txt"))
        excluded = [10034, 10045, 10172] if camera == "Sony" else []
        counts[camera] = [
            len(Selection(exposures=exposures, exclude_scenes=scenes).apply(pairs))
            for scenes in ([], excluded)
            for exposures in ("all", "first")
        ]
    assert counts == {"Sony": [598, 93, 562, 88], "Fuji": [524, 94, 524, 94]}

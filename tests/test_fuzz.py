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
outputs it promises), and change no file outside the run's own outputs. The seed and the case
count fix every input, so a failure reproduces.
"""

from __future__ import annotations

import functools
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
import torch
import yaml

from gianet.cli import main
from gianet.models import build_model
from gianet.models.checkpoint import save_checkpoint
from gianet.paths import SPLITS
from gianet.synth.generate import generate_dataset
from tests.conftest import SMALL_CHECKPOINT_META
from tests.fuzz_hostile import (
    concurrent_case,
    limits_case,
    links_case,
    nonfinite_case,
    stalling_case,
)
from tests.fuzz_support import (
    Case,
    CaseTimeout,
    Seeds,
    mutate_bytes,
    mutate_text,
    run_case,
)
from tests.http_server import ServerState, serve

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
    folder = tmp_path_factory.mktemp("fuzz-seeds")
    root = folder / "data"
    scenes = {"train": 1, "val": 1, "test": 1}
    generate_dataset(root, "Sony", scenes=scenes, height=96, width=96, ratios=(100,),
                     shorts_per_scene=1, seed=0, progress=False)  # fmt: skip
    lists = [str(root / f"Sony_{split}_list.txt") for split in SPLITS]
    cache = folder / "cache"
    pack = [
        "pack",
        "--camera",
        "Sony",
        "--lists",
        *lists,
        "--manifest",
        str(cache / "manifest.json"),
    ]
    assert main(pack) == 0
    torch.manual_seed(0)
    model = build_model("unet", in_channels=4, upscale=2, **META["arch_args"])
    save_checkpoint(folder / "model.pt", model, META)
    params = (REPO / "params.yaml").read_text()
    sections = yaml.safe_load(params)
    train = sections["train"] | {"epochs": 1, "patch": 32}
    runtime = sections["runtime"] | {"progress": False}
    return Seeds(
        folder=folder,
        dataset=root,
        raw=next((root / "Sony" / "short").glob("*.dng")).read_bytes(),
        checkpoint=(folder / "model.pt").read_bytes(),
        cache=cache,
        archives=_archives(),
        params=params,
        train=json.dumps(train),
        runtime=json.dumps(runtime),
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
    root = folder / "in" / "data"
    shutil.copytree(seeds.dataset, root)
    victim = rng.choice(sorted(root.glob("Sony/*/*.dng")))
    victim.write_bytes(mutate_bytes(victim.read_bytes(), rng))
    lists = [str(root / f"Sony_{split}_list.txt") for split in SPLITS]
    manifest = folder / "out" / "cache" / "manifest.json"
    argv = ["pack", "--camera", "Sony", "--lists", *lists, "--manifest", str(manifest)]

    def packed() -> None:
        from gianet.data.cache import load_manifest, verify_cache

        assert len(load_manifest(manifest.parent)["entries"]) == 6
        assert verify_cache(manifest.parent, full=True) == []

    return Case(folder, "pack", argv, packed)


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
    suffix = rng.choice(list(seeds.archives))
    archive = folder / "in" / f"Sony{suffix}"
    archive.write_bytes(mutate_bytes(seeds.archives[suffix], rng))
    root = folder / "out" / "data"
    lists = [str(root / f"Sony_{split}_list.txt") for split in SPLITS]
    argv = ["sid-unpack", "--camera", "Sony", "--lists", *lists, "--archive", str(archive)]

    def extracted() -> None:
        assert (root / "Sony" / "short").is_dir() and (root / "Sony" / ".extracted.json").is_file()
        assert all(Path(path).is_file() for path in lists)
        assert sorted(p.name for p in root.iterdir()) == sorted(
            ["Sony", *(Path(p).name for p in lists)]
        )

    return Case(folder, "sid-unpack", argv, extracted)


def manifest_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    cache = folder / "in" / "cache"
    shutil.copytree(seeds.cache, cache)
    manifest = cache / "manifest.json"
    if rng.random() < 0.75:
        manifest.write_bytes(
            mutate_text(manifest.read_text(), rng, json.loads, lambda v: json.dumps(v, indent=1))
        )
    else:  # a damaged array under a sound manifest
        array = rng.choice(sorted(cache.rglob("*.npy")))
        array.write_bytes(mutate_bytes(array.read_bytes(), rng))
    status = folder / "in" / "torch" / "status.json"
    status.parent.mkdir()
    status.write_text('{"alexnet": null, "pieapp": null}')
    (folder / "in" / "model.pt").write_bytes(seeds.checkpoint)
    out = folder / "out"
    argv = ["evaluate", "--model", str(folder / "in" / "model.pt"), "--manifest", str(manifest),
            "--weights", str(status), "--csv", str(out / "metrics.csv"), "--summary",
            str(out / "summary.json"), "--samples-dir", str(out / "samples"), "--dataset",
            "sid-synth", "--metrics", "psnr", "ssim", "--samples", "1", "--runtime",
            seeds.runtime]  # fmt: skip

    def evaluated() -> None:
        summary = json.loads((out / "summary.json").read_text())
        rows = (out / "metrics.csv").read_text().splitlines()
        assert summary["n_images"] == len(rows) - 1 >= 1 and np.isfinite(summary["psnr"])

    return Case(folder, "evaluate", argv, evaluated)


def params_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    params = folder / "in" / "params.yaml"
    if rng.random() < 0.5:
        params.write_bytes(mutate_text(seeds.params, rng, yaml.safe_load, yaml.safe_dump))
    else:
        params.write_bytes(mutate_bytes(seeds.params.encode(), rng))
    return Case(folder, "check-params", ["check-params", str(params)], lambda: None)


def settings_case(seeds: Seeds, rng: random.Random, folder: Path) -> Case:
    settings, runtime = seeds.train, seeds.runtime
    if rng.random() < 0.6:
        settings = mutate_text(settings, rng, json.loads, json.dumps).decode("utf-8", "replace")
    else:
        runtime = mutate_text(runtime, rng, json.loads, json.dumps).decode("utf-8", "replace")
    out = folder / "out"
    argv = ["train", "--camera", "Sony", "--variant", "sid_net", "--manifest",
            str(folder / "in" / "absent" / "manifest.json"), "--model", str(out / "model.pt"),
            "--curves", str(out / "train" / "metrics.json"), "--settings", settings,
            "--runtime", runtime]  # fmt: skip

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

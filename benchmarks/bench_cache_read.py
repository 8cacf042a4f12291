"""Reading one training sample from the packed cache vs decoding the raw with rawpy.

    python benchmarks/bench_cache_read.py [RAW] [--repeats N]

Default RAW: GOPR0024.DNG in the folder named by GIANET_REALRAW (tests/data/README.md), a
real 12 MP (3000 x 4000) Bayer frame. The cache holds its packed mosaic (as `gianet pack`
writes it) and a ground truth of the same geometry; a training sample is one random
512 x 512 packed crop plus its 1024 x 1024 ground truth, amplified (TrainPatches reads the
crops, to_network converts them on the CPU here). The decode side is what a loader without a
cache does per sample: rawpy decode + pack (input) and rawpy postprocess (ground truth). Both
sides are timed in this one run and their ratio printed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from timing import timed
from torch.utils.data import default_collate

from gianet.data.cache import build_cache
from gianet.data.crops import FixedCrops
from gianet.data.dataset import PackedPairs, TrainPatches
from gianet.data.lists import Pair
from gianet.data.raw import pack, read_ground_truth, read_mosaic
from gianet.data.sources import record_sources
from gianet.data.tensors import to_network
from gianet.paths import SPLITS, list_name, record_name

#: The optional real raws of tests/data/README.md live in the folder this variable names.
REALRAW_VARIABLE = "GIANET_REALRAW"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "raw", nargs="?", type=Path, help=f"default: ${REALRAW_VARIABLE}/GOPR0024.DNG"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.raw is None:
        if not os.environ.get(REALRAW_VARIABLE):
            parser.error(
                f"give a RAW file, or set {REALRAW_VARIABLE} to a folder holding GOPR0024.DNG"
            )
        args.raw = Path(os.environ[REALRAW_VARIABLE]) / "GOPR0024.DNG"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "data"
        (root / "Sony" / "short").mkdir(parents=True)
        (root / "Sony" / "long").mkdir(parents=True)
        short, long = "Sony/short/00001_00_0.1s.dng", "Sony/long/00001_00_10s.dng"
        for name in (short, long):
            (root / name).symlink_to(args.raw.resolve())
        pair = Pair(short, long, scene=1, shot=0, ratio=100.0, iso=100)
        # The dataset's record, as the workflow writes it from the split lists (each list
        # names the one pair); packed at the file's own levels, as the decode side reads it.
        for split in SPLITS:
            (root / list_name("Sony", split)).write_text(f"{short} {long} ISO100\n")
        record = record_sources(root, "Sony", root / record_name("Sony"), progress=False)
        build_cache(
            root,
            {"train": [pair]},
            Path(folder) / "cache",
            record=record,
            levels="file",
            progress=False,
        )
        patches = TrainPatches(
            PackedPairs(Path(folder) / "cache", "train", 1.0),
            FixedCrops(kind="fixed", patch=512),
            seed=0,
            shots="all",
            flips="sid",
        )
        epochs = iter(range(10**6))

        def cached_sample():
            key = (next(epochs), 0, 0)  # a new random crop each time
            inputs, target = to_network(default_collate([patches[key]]), torch.device("cpu"), 1.0)
            return inputs.sum() + target.sum()

        def decoded_sample():
            packed, scale = pack(read_mosaic(root / short))
            truth = read_ground_truth(root / long)
            return packed.sum() + truth.sum() + scale.sum()

        shape = np.load(Path(folder) / "cache" / "inputs" / "00001_00_0.1s.npy", mmap_mode="r")
        cached = timed(cached_sample, args.repeats * 20)
        decoded = timed(decoded_sample, args.repeats)
    print(f"raw: {args.raw} (packed {tuple(shape.shape)})")
    print(f"cache read, 512 crop + ground truth: {cached * 1e3:9.2f} ms (median)")
    print(f"rawpy decode + pack + postprocess:   {decoded * 1e3:9.2f} ms (median)")
    print(f"ratio decode / cache read:           {decoded / cached:9.1f} x")


if __name__ == "__main__":
    main()

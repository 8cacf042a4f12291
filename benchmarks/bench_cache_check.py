"""The cache's content checks against what training reads from an array.

    python benchmarks/bench_cache_check.py [--repeats N]

Two arrays of SID's full-frame sizes are written as `gianet pack` writes them (a Sony packed
input, 4 x 1424 x 2128, and its ground truth, 3 x 2848 x 4256, uint16) with their content
records. Timed side by side in this one run, with the files in the page cache:

- the fast check (size, header, 16 sampled blocks), which ``open_array`` runs once per array
  and process and the workflow runs for every array when it builds its DAG;
- the full check (sha256 of every byte, ``gianet pack --verify full``);
- one training sample read from the memory-mapped arrays (a 512 x 512 packed crop and its
  1024 x 1024 ground truth), the work the fast check is added to.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from timing import timed

from gianet import atomic
from gianet.data.cache import array_problem, content_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shapes = {"inputs/x.npy": (4, 1424, 2128), "gt/x.npy": (3, 2848, 4256)}
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        entries = {}
        for name, shape in shapes.items():
            atomic.save_npy(cache / name, rng.integers(0, 65535, shape, dtype=np.uint16))
            entries[name] = {"array": name, "shape": list(shape)} | content_record(cache / name)

        def fast() -> None:
            assert all(array_problem(cache, meta) is None for meta in entries.values())

        def full() -> None:
            assert all(array_problem(cache, meta, full=True) is None for meta in entries.values())

        def sample() -> None:
            packed = np.load(cache / "inputs/x.npy", mmap_mode="r")
            truth = np.load(cache / "gt/x.npy", mmap_mode="r")
            y, x = rng.integers(0, 1424 - 512), rng.integers(0, 2128 - 512)
            crop = np.array(packed[:, y : y + 512, x : x + 512], np.float32)
            target = np.array(truth[:, 2 * y : 2 * y + 1024, 2 * x : 2 * x + 1024], np.float32)
            assert crop.size and target.size

        steps = {"fast check": fast, "full check": full, "one sample": sample}
        seconds = {name: timed(step, args.repeats) for name, step in steps.items()}
    for name, value in seconds.items():
        print(f"{name:11s} {value * 1e3:9.2f} ms (both arrays)")
    print(f"full / fast check: {seconds['full check'] / seconds['fast check']:.0f} x")
    print(f"fast check / one sample: {seconds['fast check'] / seconds['one sample']:.3f}")


if __name__ == "__main__":
    main()

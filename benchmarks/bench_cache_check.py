"""What a job pays to check the cache before it reads it, against what it reads.

    PYTHONPATH=src python benchmarks/bench_cache_check.py [--repeats N]
    PYTHONPATH=src python benchmarks/bench_cache_check.py --small     # tiny frames, a smoke run

A sid-synth set of one training, one validation and one test scene of SID's Sony size (raws of
2848 x 4256; a packed input of 4 x 1424 x 2128 and a ground truth of 3 x 2848 x 4256, uint16)
is generated, recorded and packed as the workflow does (``synth_cache.py``), which leaves the
cache's ``verified.json`` seeded. Timed side by side in this one run, for the training pair
(its two raws and two arrays), with the files in the page cache:

- ``prepare_cache`` on the verified cache, what every training and evaluation pays before it
  reads the cache: under the cache's lock, the state read and a stat per raw and per array
  compared with the fingerprint last verified; nothing is written when nothing changed;
- the state read and written back (durably: fsync'ed and renamed), what a job adds when a
  fingerprint changed (beside that file's full hash);
- ``prepare_cache(full=True)``, the sha256 of every byte of both raws and both arrays
  (``gianet verify-cache --full``; what a job pays for a file whose fingerprint changed);
- one training sample read from the memory-mapped arrays (a 512 x 512 packed crop and its
  1024 x 1024 ground truth, as float32), the work the check is weighed against.

The cheap sides are timed ``10 x --repeats`` times, the full check ``--repeats`` times;
medians are printed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from synth_cache import dataset_record, packed_synth_cache
from timing import timed

from gianet.data.lists import Pair
from gianet.data.manifest import array_file, load_manifest
from gianet.data.verified import read_state, state_file, write_state
from gianet.data.verify import prepare_cache

SONY_FRAME = (2848, 4256)  # SID's Sony raw frames
SMALL_FRAME = (288, 432)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="tiny frames, for a smoke run")
    args = parser.parse_args()
    (height, width), patch = (SMALL_FRAME, 64) if args.small else (SONY_FRAME, 512)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        cache = packed_synth_cache(Path(folder), 1, height, width, workers=2)
        record = dataset_record(Path(folder))
        manifest = load_manifest(cache)
        pairs = [Pair(**p) for p in manifest["splits"]["train"]]
        short, long = manifest["entries"][pairs[0].short], manifest["entries"][pairs[0].long]
        root = Path(manifest["root"])
        files = [root / pairs[0].short, root / pairs[0].long]
        files += [array_file(cache, short), array_file(cache, long)]
        hashed = sum(path.stat().st_size for path in files)
        _, rows, cols = short["shape"]

        def fast() -> None:
            assert prepare_cache(cache, manifest, record, pairs) == []

        def full() -> None:
            assert prepare_cache(cache, manifest, record, pairs, full=True) == []

        def state_write() -> None:
            write_state(state_file(cache), read_state(state_file(cache)))

        def sample() -> None:
            packed = np.load(array_file(cache, short), mmap_mode="r")
            truth = np.load(array_file(cache, long), mmap_mode="r")
            y, x = rng.integers(0, rows - patch), rng.integers(0, cols - patch)
            crop = np.array(packed[:, y : y + patch, x : x + patch], np.float32)
            target = truth[:, 2 * y : 2 * y + 2 * patch, 2 * x : 2 * x + 2 * patch]
            assert crop.size and np.array(target, np.float32).size

        full()  # every file read once: the page cache is warm for every side
        seconds = {
            "prepare_cache, verified (fast path)": timed(fast, 10 * args.repeats),
            "verified.json read and rewritten": timed(state_write, 10 * args.repeats),
            "prepare_cache, full=True": timed(full, args.repeats),
            "one training sample read": timed(sample, 10 * args.repeats),
        }
    print(
        f"raws {height} x {width}; packed input {short['shape']}, ground truth {long['shape']}; "
        f"crop {patch} / {2 * patch}"
    )
    print(f"files checked: 2 raws and 2 arrays, {hashed / 2**20:.0f} MiB hashed by the full check")
    for name, value in seconds.items():
        print(f"{name:36s} {value * 1e3:9.2f} ms (median, the training pair)")
    fast_path, _, full_check, one_sample = seconds.values()
    print(f"full / fast path: {full_check / fast_path:.1f} x")
    print(f"fast path / one sample: {fast_path / one_sample:.3f}")


if __name__ == "__main__":
    main()

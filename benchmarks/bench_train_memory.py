"""Peak resident memory of a training process against dataset size.

    python benchmarks/bench_train_memory.py [--small 3] [--factor 10] [--height 2848 --width 4256]

Generates two sid-synth sets (Sony, full-size frames by default), one ``factor`` times the
other's training scenes, packs each, and trains SID-Net for a few steps on each in a fresh
process, reading that process's peak RSS (ru_maxrss). The cache is memory-mapped, so the peak
should not grow with the number of scenes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from synth_cache import packed_synth_cache

REPO = Path(__file__).parents[1]

CHILD = """
import json, resource, sys, yaml
from gianet.jobs.runtime import Runtime
from gianet.training.train import train_variant
from gianet.variants import get_variant
train = json.loads(sys.argv[1])
runtime = Runtime(threads=2, device="cpu", progress=False)
train_variant(get_variant("sid_net"), sys.argv[2], sys.argv[3] + "/model.pt",
              sys.argv[3] + "/log", train, camera="Sony", runtime=runtime)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mb(cache: Path, out: Path, train: dict) -> float:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(train), str(cache), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(run.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3, help="training scenes of the small set")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--height", type=int, default=2848)
    parser.add_argument("--width", type=int, default=4256)
    parser.add_argument("--patch", type=int, default=512)
    args = parser.parse_args()
    train = yaml.safe_load((REPO / "params.yaml").read_text())["train"]
    train.update(epochs=1, patch=args.patch)
    print(f"frames {args.height} x {args.width}, patch {args.patch}, SID-Net, 1 epoch, CPU")
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for scenes in (args.small, args.small * args.factor):
            work = Path(folder) / f"scenes{scenes}"
            cache = packed_synth_cache(work, scenes, args.height, args.width, workers=2)
            size = sum(f.stat().st_size for f in cache.rglob("*.npy")) / 2**30
            figures[scenes] = peak_rss_mb(cache, work / "run", train)
            print(
                f"{scenes:4d} training scenes, cache {size:6.2f} GiB: "
                f"peak RSS {figures[scenes]:7.0f} MiB"
            )
    small, large = figures[args.small], figures[args.small * args.factor]
    print(f"ratio peak RSS large / small: {large / small:.3f}")
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

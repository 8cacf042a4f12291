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

from synth_cache import packed_synth_cache

REPO = Path(__file__).parents[1]

#: The training process: SID-Net on the cache's training split for one epoch, params.yaml's
#: train and runtime settings with the changes passed in, then its peak RSS in KiB. Two
#: threads on the CPU, no loader process, no validation and no checkpoint.
CHILD = """
import json, resource, sys
from gianet.data.dataset import PackedPairs
from gianet.data.lists import Selection
from gianet.settings import load_params
from gianet.settings.sections import Train
from gianet.training.recipe import Recipe
from gianet.training.train import train_variant
from gianet.variants import get_variant
params_file, changes, cache, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
params = load_params(params_file)
train = Train.model_validate(params.train.model_dump() | changes)
recipe = Recipe.for_variant(get_variant("sid_net"), train, train.seeds[0])
runtime = params.runtime.model_copy(update=dict(
    threads=2, device="cpu", progress=False, loader_workers=0, checkpoint_every=0, val_every=0))
validation = Selection(exposures=train.val_exposures["Sony"], exclude_scenes=[])
train_variant(recipe, PackedPairs(cache, "train", recipe.max_input),
              PackedPairs(cache, "val", recipe.max_input, selection=validation),
              out + "/model.pt", out + "/log", camera="Sony", runtime=runtime)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mb(cache: Path, out: Path, changes: dict) -> float:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(REPO / "params.yaml"),
            json.dumps(changes),
            str(cache),
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode:
        sys.exit(f"the training process failed:\n{run.stderr}")
    return int(run.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3, help="training scenes of the small set")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--height", type=int, default=2848)
    parser.add_argument("--width", type=int, default=4256)
    parser.add_argument("--patch", type=int, default=512)
    args = parser.parse_args()
    changes = {"epochs": 1, "patch": args.patch}
    print(f"frames {args.height} x {args.width}, patch {args.patch}, SID-Net, 1 epoch, CPU")
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for scenes in (args.small, args.small * args.factor):
            work = Path(folder) / f"scenes{scenes}"
            cache = packed_synth_cache(work, scenes, args.height, args.width, workers=2)
            size = sum(f.stat().st_size for f in cache.rglob("*.npy")) / 2**30
            figures[scenes] = peak_rss_mb(cache, work / "run", changes)
            print(
                f"{scenes:4d} training scenes, cache {size:6.2f} GiB: "
                f"peak RSS {figures[scenes]:7.0f} MiB"
            )
    small, large = figures[args.small], figures[args.small * args.factor]
    print(f"ratio peak RSS large / small: {large / small:.3f}")
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

"""Every GPU check in order, within the time budget: the machine's line, checks 1-3 on random
batches, a packed sid-synth cache in a temporary folder (``GIANET_BENCH_TMP`` or the system's)
for checks 4-7, then check 8. A check that fails is reported and the next one runs; the
training loops and ``torch.compile`` are skipped, saying so, when too little time is left."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from synth_cache import packed_synth_cache

from .common import Clock, say, section
from .compiled import check_compile
from .data_path import check_data_path
from .equivalence import check_equivalence
from .evaluation import check_evaluation, random_metric_weights
from .step import check_loss, check_pad_fix, check_step_matrix
from .training import crop_sides, gpu_bound_rate, loop_settings, report_loop, run_loop

SONY_FRAME = (2848, 4256)  # SID's Sony raw frames


def run_all(args: argparse.Namespace, script: Path) -> None:
    """Run every check with the command line's ``args`` (``script``: the entry point, which
    the ``torch.compile`` check runs again as its child)."""
    clock = Clock(args.budget)
    cuda = torch.cuda.is_available()
    torch.backends.cudnn.benchmark = True
    torch.set_num_threads(8 if cuda else 2)
    small = args.small
    name = torch.cuda.get_device_name() if cuda else "cpu"
    say(
        f"gpu_check: {name}; torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"cuDNN {torch.backends.cudnn.version()}; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}"
    )
    patch, steps = (96, 2) if small else (512, 100)
    with section(f"1. GIA pad fix: GIA-Net step at {patch}, joint loss, before / after"):
        check_pad_fix(cuda, patch, 3 if small else 40)
    with section("2. joint loss alone (L1 + MS-SSIM), forward + backward"):
        check_loss(cuda, 192 if small else 1024, 2 if small else 30)
    with section(
        f"3. GIA-Net step at {patch}, joint loss: precision x memory format x CUDA graphs"
    ):
        check_step_matrix(cuda, patch, steps)
    with tempfile.TemporaryDirectory(dir=os.environ.get("GIANET_BENCH_TMP")) as folder:
        _with_cache(Path(folder), args, clock, cuda)
    with section("8. torch.compile of forward + loss (child process)"):
        if small and not cuda:
            say("   skipped on the CPU (minutes of compilation on two cores)")
        elif clock.left() < 60:
            say(f"   skipped: {clock.left():.0f} s left of the budget")
        else:
            check_compile(script, args.small, clock.left() - 20)
    say(f"\ngpu_check done in {args.budget - clock.left():.0f} s")


def _with_cache(work: Path, args: argparse.Namespace, clock: Clock, cuda: bool) -> None:
    """Checks 4-7, on a sid-synth cache generated and packed under ``work``."""
    small = args.small
    height, width = (400, 560) if small else SONY_FRAME
    scenes = 4 if small else args.scenes
    with section(
        f"   sid-synth cache: {scenes} training, 1 validation, 3 test scenes of {height} x {width}"
    ):
        start = time.perf_counter()
        cache = packed_synth_cache(work, scenes, height, width, workers=os.cpu_count() or 2, test=3)
        say(f"   generated and packed in {time.perf_counter() - start:.0f} s")
    loop = loop_settings(small)
    recipe, runtime = loop.recipe, loop.runtime
    figures = {}
    with section(
        f"4. train_variant: gia_net, multi-size crops {recipe.crops.a} x b, joint loss, "
        f"{recipe.epochs} epochs x {scenes} scenes, {recipe.precision}, validation + "
        f"checkpoint every {runtime.val_every} epochs"
    ):
        bound = gpu_bound_rate(crop_sides(recipe, scenes), cuda) if cuda else None
        variants = [("graphs, 4 loader processes", runtime)]
        if cuda:
            variants += [
                ("eager, 4 loader processes", runtime.model_copy(update={"cuda_graphs": False})),
                ("graphs, no loader process", runtime.model_copy(update={"loader_workers": 0})),
            ]
        for number, (label, chosen) in enumerate(variants):
            if figures and clock.left() < 200:
                say(f"   {label}: skipped, {clock.left():.0f} s left")
                continue
            figures[label] = run_loop(cache, work / f"loop{number}", loop, chosen)
            report_loop(label, figures[label], bound)
    trained = sorted(work.glob("loop*/model.pt"))  # the first loop that finished
    model_path = trained[0] if trained else work / "loop0" / "model.pt"
    with section("5. evaluation of full frames on the device (float32, TF32 off)"):
        home = work / "torch_home"
        random_metric_weights(home)
        check_evaluation(cache, model_path, home, cuda, work / "evaluation")
    with section("6. data path: CPU cost per sample before / after, loader throughput"):
        check_data_path(cache, cuda, small)
    with section("7. equivalence: the same short training per precision and memory format"):
        check_equivalence(cache, cuda, 8 if small else 300, small)

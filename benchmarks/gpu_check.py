"""Every GPU check of the training and evaluation path, in one script of at most 8 minutes.

    PYTHONPATH=src python benchmarks/gpu_check.py            # on a CUDA machine (H100: ~6 min)
    PYTHONPATH=src python benchmarks/gpu_check.py --small    # anywhere, tiny sizes (smoke run)

Prints, measured side by side in this one run (benchmarks/README.md has the runbook):

1. GIA-Net steps/s at 512 with the joint loss, before/after the GIA pad fix (replicate pad
   vs broadcast), eager, bf16 and tf32;
2. the joint loss alone at 1024 px, forward + backward: piq's MS-SSIM vs ours, and their
   difference on this GPU;
3. steps/s at 512 with the joint loss for every precision x memory format x (eager, CUDA
   graphs), with peak memory;
4. (after generating and packing a Sony-sized sid-synth cache of 32 training scenes)
   the real ``train_variant`` loop: GIA-Net, multi-size crops, joint loss, validation and
   checkpoints on, >= 1000 steps, with CUDA graphs and loader processes, and for comparison
   eager and without loader processes: steps/s, GPU-busy share (NVML), seconds per
   validation frame and per checkpoint, projected hours of the paper's schedule;
5. evaluation of 12 MP frames: seconds per frame of the network and of each metric, and of
   ``evaluate_variant`` per frame (PSNR + SSIM + LPIPS, sample PNGs in the background);
6. the data path: CPU milliseconds per sample before/after, loader throughput by processes;
7. equivalence: the same short training (real crops) per precision and memory format, the
   loss each lands at and its difference to IEEE float32;
8. ``torch.compile`` of forward + loss (in a child process with a time limit).

LPIPS and PieAPP use random weights (their speed does not depend on the values). No dvclive,
no snakemake needed: the training loop gets an in-memory curve logger.

This file is the command line; the checks are in the package ``benchmarks/gpu`` (one module per
group, :mod:`gpu.run` runs them in order), imported from here as ``gpu``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gpu.compiled import compile_child
from gpu.run import run_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--budget", type=float, default=450, help="seconds for the whole run")
    parser.add_argument("--scenes", type=int, default=32, help="training scenes of the cache")
    parser.add_argument("--compile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compile_child:
        compile_child(args.small)
        return
    run_all(args, Path(__file__).resolve())


if __name__ == "__main__":
    main()

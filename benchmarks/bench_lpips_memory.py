"""Peak memory and time of LPIPS on one full frame pair: gianet's slice-by-slice, chunked
distance against ``lpips.LPIPS.forward``, for the AlexNet and the VGG-16 backbones.

Each measurement runs in a fresh process (spawned) holding the model and both images; its
peak RSS is reset (``/proc/self/clear_refs``) before the distance is computed, and the growth
of ``VmHWM`` over the RSS before is reported. Random backbone weights, the same in each
process (their values do not change the cost, and both methods' values agree). CPU, one
thread:

    PYTHONPATH=src python benchmarks/bench_lpips_memory.py --height 1416 --width 2120
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torchvision

BACKBONES = ("alex", "vgg")
METHODS = ("gianet", "lpips.forward")


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def write_random_backbone(home: Path, backbone: str) -> None:
    from gianet.fetch.weights import LPIPS_BACKBONES, WEIGHTS

    path = WEIGHTS[LPIPS_BACKBONES[backbone]].path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = torchvision.models.alexnet if backbone == "alex" else torchvision.models.vgg16
    torch.manual_seed(0)  # the same network in every process: the values agree
    features = net(weights=None).features.state_dict()
    torch.save({f"features.{key}": value for key, value in features.items()}, path)


def measure(backbone: str, method: str, height: int, width: int, queue) -> None:
    """In a child process: (peak growth in MiB, seconds, value) onto ``queue``."""
    from gianet.evaluation.perceptual import LPIPSMetric

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        write_random_backbone(Path(folder), backbone)
        metric = LPIPSMetric(Path(folder), "cpu", backbone)
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, height, width, generator=generator)
    pred = (target + 0.1 * torch.randn(target.shape, generator=generator)).clamp(0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "lpips.forward":
            model = metric.model

            def run() -> float:
                with torch.inference_mode():
                    return model(pred, target, normalize=True).item()
        else:

            def run() -> float:
                return metric(pred, target).item()

        before = status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        start = time.perf_counter()
        value = run()
        seconds = time.perf_counter() - start
    queue.put(((status_kib("VmHWM") - before) / 1024, seconds, value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=1416)
    parser.add_argument("--width", type=int, default=2120)
    parser.add_argument("--backbones", nargs="+", choices=BACKBONES, default=list(BACKBONES))
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    print(f"LPIPS of one {args.height} x {args.width} pair, CPU, one thread")
    print(f"{'backbone':8s} {'method':14s} {'peak growth':>12s} {'seconds':>8s}  value")
    for backbone in args.backbones:
        peaks = {}
        for method in METHODS:
            queue = context.Queue()
            child = context.Process(
                target=measure, args=(backbone, method, args.height, args.width, queue)
            )
            child.start()
            peak, seconds, value = queue.get()
            child.join()
            peaks[method] = peak
            print(f"{backbone:8s} {method:14s} {peak:9.0f} MiB {seconds:8.1f}  {value:.6f}")
        ratio = peaks["lpips.forward"] / peaks["gianet"]
        print(f"{backbone:8s} lpips.forward / gianet peak: {ratio:.2f} x")


if __name__ == "__main__":
    main()

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
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import yaml
from bench_data_path import measure as per_sample_milliseconds
from gianet.jobs.runtime import Runtime
from synth_cache import packed_synth_cache
from torch.utils.data import default_collate

import gianet.evaluation.evaluate as evaluate_module
import gianet.models.gia as gia_module
import gianet.training.train as train_module
from gianet.data.crops import FixedCrops, MultiSizeCrops
from gianet.data.dataset import EpochBatches, FullFrames, PackedPairs, TrainPatches
from gianet.data.tensors import frame_to_network, to_network
from gianet.evaluation.metrics import psnr, ssim
from gianet.evaluation.perceptual import LPIPSMetric, PieAPPMetric
from gianet.fetch.weights import WEIGHTS
from gianet.jobs.device import PRECISIONS, Device, tf32
from gianet.models import build_model
from gianet.training.feed import training_loader
from gianet.training.losses import JointLoss
from gianet.training.step import EAGER_RUNS, CapturedSteps, TrainStep, make_optimizer
from gianet.variants import get_variant

REPO = Path(__file__).resolve().parents[1]
#: The paper's schedule for Sony: 4000 epochs of SID's 161 training scenes (644,000 steps).
PAPER_EPOCHS, SONY_TRAIN_SCENES = 4000, 161
SONY_FRAME = (2848, 4256)  # SID's Sony raw frames


class Clock:
    """The script's time budget."""

    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)


def say(text: str) -> None:
    print(text, flush=True)


@contextlib.contextmanager
def section(title: str) -> Iterator[None]:
    """Run a section; a failure is printed and the script goes on."""
    say(f"\n== {title}")
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - report every failure, run the other sections
        say(f"   FAILED: {type(exc).__name__}: {exc}")
        say("   " + "   ".join(traceback.format_exc().splitlines(keepends=True)[-6:]))
    say(f"   ({time.perf_counter() - start:.0f} s)")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_gib(device: torch.device) -> str:
    if device.type != "cuda":
        return "n/a"
    value = torch.cuda.max_memory_allocated(device) / 2**30
    torch.cuda.reset_peak_memory_stats(device)
    return f"{value:.2f} GiB"


def timed(device: torch.device, function: Callable[[], object], repeats: int = 1) -> float:
    """Seconds per call of ``function`` (after one warm-up call), device work included."""
    function()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    sync(device)
    return (time.perf_counter() - start) / repeats


# -- 1-3: the step at a fixed size ------------------------------------------------------------


def gia_net_step(device: Device, compile: bool = False) -> TrainStep:
    torch.manual_seed(0)
    model = device.prepare(build_model("unet", in_channels=4, upscale=2, gia=True))
    return TrainStep(model, JointLoss(), make_optimizer(model, 1e-4, device), device, compile)


def step_rate(device: Device, patch: int, steps: int, graphs: bool, compile: bool = False):
    """Steps/s of GIA-Net + joint loss on one random batch, and the peak memory."""
    step = gia_net_step(device, compile)
    run = CapturedSteps(step) if graphs and device.cuda else step
    inputs = device.batch(torch.rand(1, 4, patch, patch))
    target = torch.rand(1, 3, 2 * patch, 2 * patch, device=device.device)
    with device.math():
        for _ in range(EAGER_RUNS + 3):  # warm-up (and capture)
            run(inputs, target)
        sync(device.device)
        start = time.perf_counter()
        for _ in range(steps):
            run(inputs, target)
        sync(device.device)
    return steps / (time.perf_counter() - start), peak_gib(device.device)


def check_pad_fix(cuda: bool, patch: int, steps: int) -> None:
    device = torch.device("cuda" if cuda else "cpu")
    for precision in ("bf16", "tf32") if cuda else ("float32",):
        chosen = Device(device, precision, channels_last=cuda)
        rates = {}
        for name, spread in (
            ("replicate pad (before)", gia_module.replicate_pad_spread),
            ("broadcast (after)", None),
        ):
            with contextlib.ExitStack() as stack:
                if spread is not None:
                    original = gia_module.spread_to
                    gia_module.spread_to = spread
                    stack.callback(setattr, gia_module, "spread_to", original)
                rates[name], peak = step_rate(chosen, patch, steps, graphs=False)
            say(
                f"   {chosen.precision:7s} eager, GIA {name:22s}: {rates[name]:7.1f} steps/s  "
                f"peak {peak}"
            )
        ratio = rates["broadcast (after)"] / rates["replicate pad (before)"]
        say(f"   {chosen.precision:7s} after / before: {ratio:.2f} x")


def check_loss(cuda: bool, side: int, repeats: int) -> None:
    import piq

    device = torch.device("cuda" if cuda else "cpu")
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, side, side, generator=generator).to(device)
    pred = (target + 0.1 * torch.randn(target.shape, generator=generator).to(device)).clamp(0, 1)

    def former() -> torch.Tensor:
        x = pred.clone().requires_grad_()
        loss = 0.84 * F.l1_loss(x, target) + 0.16 * (
            1 - piq.multi_scale_ssim(x, target, data_range=1.0)
        )
        loss.backward()
        return loss

    def ours() -> torch.Tensor:
        x = pred.clone().requires_grad_()
        loss = JointLoss()(x, target)
        loss.backward()
        return loss

    with tf32(True):  # how the former loop ran piq: cuDNN's default, TF32 convolutions
        before = timed(device, former, repeats)
    with tf32(False):  # how the training step runs the loss now
        after = timed(device, ours, repeats)
        ieee = {name: fn().item() for name, fn in (("piq", former), ("ours", ours))}
    with tf32(True):
        ours_tf32 = ours().item()
    say(f"   joint loss {side} px fwd+bwd, piq (TF32 convolutions): {1 / before:7.1f} per s")
    say(f"   joint loss {side} px fwd+bwd, ours (IEEE float32)    : {1 / after:7.1f} per s")
    say(
        f"   speed-up {before / after:.2f} x; IEEE float32 |ours - piq| = "
        f"{abs(ieee['ours'] - ieee['piq']):.2e}; ours with TF32 convolutions differs from IEEE "
        f"by {abs(ours_tf32 - ieee['ours']):.2e} (why the loss runs in IEEE float32)"
    )


def check_step_matrix(cuda: bool, patch: int, steps: int) -> None:
    device = torch.device("cuda" if cuda else "cpu")
    for precision in PRECISIONS if cuda else ("float32",):
        for channels_last in (False, True) if cuda else (False,):
            for graphs in (False, True) if cuda else (False,):
                chosen = Device(device, precision, channels_last)
                rate, peak = step_rate(chosen, patch, steps, graphs)
                say(
                    f"   {precision:7s} channels_last={channels_last!s:5} graphs={graphs!s:5}: "
                    f"{rate:7.1f} steps/s  peak {peak}"
                )


# -- 4: the real training loop ----------------------------------------------------------------


class MemoryCurves:
    """An in-memory curve logger for ``train_variant`` (no dvclive): keeps (name, value, time)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, float, float]] = []

    def log_metric(self, name: str, value: float) -> None:
        self.records.append((name, value, time.perf_counter()))

    def next_step(self) -> None:
        pass

    def __enter__(self) -> MemoryCurves:
        return self

    def __exit__(self, *exc_info: object) -> bool:
        return False


class GpuBusy:
    """The share of time a kernel was running on GPU 0, sampled from NVML (the driver's
    ``libnvidia-ml``) every 100 ms in a thread; ``None`` where NVML is not available."""

    class _Utilization(ctypes.Structure):
        _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._handle = ctypes.c_void_p()
        self._nvml = None
        if not torch.cuda.is_available():
            return
        try:
            self._nvml = ctypes.CDLL("libnvidia-ml.so.1")
            if self._nvml.nvmlInit_v2() or self._find_gpu():
                self._nvml = None
        except (OSError, AttributeError):
            self._nvml = None

    def _find_gpu(self) -> int:
        """NVML's handle of torch's GPU 0 (by PCI address; index 0 if torch has none)."""
        props = torch.cuda.get_device_properties(0)
        if hasattr(props, "pci_bus_id"):
            address = (
                f"{props.pci_domain_id:08x}:{props.pci_bus_id:02x}:{props.pci_device_id:02x}.0"
            )
            status = self._nvml.nvmlDeviceGetHandleByPciBusId_v2(
                address.encode(), ctypes.byref(self._handle)
            )
            if status == 0:  # NVML_SUCCESS
                return status
        return self._nvml.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(self._handle))

    def _sample(self) -> None:
        utilization = self._Utilization()
        while not self._stop.wait(0.1):
            if not self._nvml.nvmlDeviceGetUtilizationRates(
                self._handle, ctypes.byref(utilization)
            ):
                self.samples.append((time.perf_counter(), utilization.gpu))

    def __enter__(self) -> GpuBusy:
        if self._nvml is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._nvml is not None:
            self._thread.join()

    def share(self, since: float = 0.0) -> float | None:
        values = [gpu for when, gpu in self.samples if when >= since]
        return sum(values) / len(values) / 100 if values else None


def loop_settings(small: bool) -> tuple[dict, Runtime]:
    """The paper's training settings (configs/paper.yaml over params.yaml), 32 epochs."""
    train = yaml.safe_load((REPO / "params.yaml").read_text())["train"]
    train |= yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())["train"]
    train |= {"epochs": 3 if small else 32, "lr_decay_epoch": 2 if small else 16}
    if small:
        train |= {"patch": 96, "multi_size_a": 6}
    cadence = 1 if small else 8
    runtime = Runtime(
        threads=8, loader_workers=4, device="auto", channels_last=True, cuda_graphs=True,
        checkpoint_every=cadence, val_every=cadence, progress=False,
    )  # fmt: skip
    return train, runtime


def paper_cadence() -> tuple[int, int, int]:
    """configs/paper.yaml's validation and checkpoint cadence, and SID's Sony validation
    frames under its protocol (each scene's ``_00`` shots)."""
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())["runtime"]
    val_list = REPO / "src" / "gianet" / "data" / "sid_lists" / "Sony_val_list.txt"
    frames = sum("_00_" in line.split()[0] for line in val_list.read_text().splitlines() if line)
    return paper["val_every"], paper["checkpoint_every"], frames


def run_loop(cache: Path, out: Path, train: dict, runtime: Runtime) -> dict:
    """One ``train_variant`` run of GIA-Net with timings of its validations, checkpoints and
    epochs and the GPU-busy share."""
    spent: dict[str, list[tuple[float, float]]] = {"validate": [], "save_training_state": []}
    originals = {name: getattr(train_module, name) for name in spent}

    def timing(name: str) -> Callable:
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = originals[name](*args, **kwargs)
            sync(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
            spent[name].append((start, time.perf_counter() - start))
            return result

        return wrapper

    curves = MemoryCurves()
    for name in spent:
        setattr(train_module, name, timing(name))
    try:
        with GpuBusy() as busy:
            result = train_module.train_variant(
                get_variant("gia_net"), cache, out / "model.pt", out / "log", train,
                camera="Sony", runtime=runtime, curves=lambda log_dir, resume: curves,
            )  # fmt: skip
    finally:
        for name, original in originals.items():
            setattr(train_module, name, original)
    ends = [when for name, _, when in curves.records if name == "train/loss"]
    # Steady state: the second half of the epochs, validation and checkpoints taken out.
    half = len(ends) // 2
    extra = sum(
        seconds
        for calls in spent.values()
        for start, seconds in calls
        if ends[half - 1] <= start < ends[-1]
    )
    steady_steps = (len(ends) - half) * result.steps // len(ends)
    steady_rate = steady_steps / (ends[-1] - ends[half - 1] - extra)
    return {
        "result": result,
        "steady_rate": steady_rate,
        "busy": busy.share(),
        "steady_busy": busy.share(since=ends[half - 1]),
        "val_seconds": [s for _, s in spent["validate"]],
        "checkpoint_seconds": [s for _, s in spent["save_training_state"]],
        "val_frames": len(PackedPairs(cache, "val", 1.0).pairs),
    }


def crop_sides(train: dict, scenes: int) -> list[int]:
    """The crop side of every step of the loop, as its batches draw them."""
    low, high = train["multi_size_b"]
    crops = CropPolicy("multi-size", train["patch"], train["multi_size_a"], low, high)
    batches = EpochBatches(scenes, train["batch_size"], train["seed"], train["epochs"])
    sides = []
    for batch in batches:
        epoch, _, first = batch[0]
        sides.append(crops.side(np.random.default_rng([train["seed"], epoch, first, 1])))
    return sides


def gpu_bound_rate(sides: list[int], cuda: bool) -> float:
    """Steps/s of the captured step over the same crop sizes with the data already on the
    GPU: the rate a perfectly fed loop would reach."""
    device = Device(torch.device("cuda" if cuda else "cpu"), "tf32", channels_last=cuda)
    step = gia_net_step(device)
    run = CapturedSteps(step) if cuda else step
    batches = {
        side: (
            device.batch(torch.rand(1, 4, side, side)),
            torch.rand(1, 3, 2 * side, 2 * side, device=device.device),
        )
        for side in set(sides)
    }
    with device.math():
        for side in sorted(set(sides)):  # every size captured before timing
            for _ in range(EAGER_RUNS + 1):
                run(*batches[side])
        sync(device.device)
        start = time.perf_counter()
        for side in sides:
            run(*batches[side])
        sync(device.device)
    return len(sides) / (time.perf_counter() - start)


def report_loop(name: str, figures: dict, bound: float | None) -> None:
    result = figures["result"]
    val, ckpt = figures["val_seconds"], figures["checkpoint_seconds"]
    busy = "n/a (no NVML)" if figures["busy"] is None else f"{100 * figures['busy']:.0f} %"
    steady_busy = (
        ""
        if figures["steady_busy"] is None
        else f", {100 * figures['steady_busy']:.0f} % in the second half"
    )
    say(
        f"   {name}: {result.steps} steps in {result.seconds:.1f} s = "
        f"{result.steps / result.seconds:.1f} steps/s overall; steady (second half, no "
        f"validation/checkpoint) {figures['steady_rate']:.1f} steps/s"
    )
    say(
        f"   {name}: GPU busy {busy}{steady_busy}"
        + (
            f"; GPU-bound rate for these crops {bound:.1f} steps/s (the loop reaches "
            f"{figures['steady_rate'] / bound:.0%} of it)"
            if bound
            else ""
        )
    )
    per_frame = sum(val) / len(val) / figures["val_frames"] if val else 0.0
    per_ckpt = sum(ckpt) / len(ckpt) if ckpt else 0.0
    say(
        f"   {name}: validation {per_frame:.3f} s per frame ({len(val)} runs), checkpoint "
        f"{per_ckpt:.3f} s ({len(ckpt)})"
    )
    val_every, ckpt_every, val_frames = paper_cadence()
    steps = PAPER_EPOCHS * SONY_TRAIN_SCENES
    hours = (
        steps / figures["steady_rate"]
        + PAPER_EPOCHS // val_every * val_frames * per_frame
        + PAPER_EPOCHS // ckpt_every * per_ckpt
    ) / 3600
    say(
        f"   {name}: projected paper schedule (4000 x 161 = {steps} steps, validation of "
        f"{val_frames} frames every {val_every} epochs, checkpoint every {ckpt_every}): "
        f"{hours:.2f} h per model, {28 * hours:.0f} GPU-hours for the 28 trainings"
    )


# -- 5: evaluation ----------------------------------------------------------------------------


def random_metric_weights(home: Path) -> None:
    """Random LPIPS backbone and PieAPP weights where the metrics look for them."""
    alexnet = WEIGHTS["alexnet"].path(home)
    alexnet.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), alexnet)
    from piq.pieapp import PieAPPModel

    state = PieAPPModel().state_dict()
    state["ref_score_subtract.weight"] = state["ref_score_subtract.weight"].squeeze(
        1
    )  # as released
    torch.save(state, WEIGHTS["pieapp"].path(home))


def check_evaluation(cache: Path, model_path: Path, home: Path, cuda: bool, out: Path) -> None:
    from gianet.models.checkpoint import load_model

    device = Device(torch.device("cuda" if cuda else "cpu"), "float32", channels_last=cuda)
    pairs = PackedPairs(cache, "test", 1.0)
    inputs, target = frame_to_network(FullFrames(pairs)[0], device.device, 1.0)
    model = device.prepare(load_model(model_path)[0])
    lpips = LPIPSMetric(home, device.device, "alex")
    pieapp = PieAPPMetric(home, device.device)
    with torch.no_grad(), device.math():
        output = model(device.batch(inputs[None])).clamp(0, 1)
        truth = target[None]
        seconds = {
            "network (float32)": timed(device.device, lambda: model(device.batch(inputs[None]))),
            "psnr": timed(device.device, lambda: psnr(output, truth).item()),
            "ssim": timed(device.device, lambda: ssim(output, truth).item()),
            "lpips": timed(device.device, lambda: lpips(output, truth)),
            "pieapp": timed(device.device, lambda: pieapp(output, truth)),
        }
    shape = tuple(output.shape[-2:])
    for name, value in seconds.items():
        say(f"   {shape[0]} x {shape[1]} frame, {name:17s}: {value:7.3f} s")
    starts: list[float] = []
    original = evaluate_module.frame_to_network

    def stamped(*args, **kwargs):
        starts.append(time.perf_counter())
        return original(*args, **kwargs)

    evaluate_module.frame_to_network = stamped
    try:
        begin = time.perf_counter()
        summary = evaluate_module.evaluate_variant(
            model_path, cache, csv_path=out / "metrics.csv", summary_path=out / "summary.json",
            samples_dir=out / "samples", dataset="sid-synth", metrics=["psnr", "ssim", "lpips"],
            torch_home=home, samples=1,
            runtime=Runtime(threads=8, loader_workers=2, channels_last=cuda, progress=False),
        )  # fmt: skip
        wall = time.perf_counter() - begin
    finally:
        evaluate_module.frame_to_network = original
    frames = summary["n_images"]
    steady = (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else float("nan")
    say(
        f"   evaluate_variant, {frames} frames, PSNR + SSIM + LPIPS, 1 sample PNG set: "
        f"{wall:.2f} s in all (setup included), {steady:.3f} s per frame from frame to frame; "
        f"network {summary['seconds_per_image']:.3f} s per frame"
    )


# -- 6, 7: data path and equivalence ----------------------------------------------------------


def check_data_path(cache: Path, cuda: bool, small: bool) -> None:
    pairs = PackedPairs(cache, "train", 1.0)
    patch, a = (96, 6) if small else (512, 32)
    for crops in (
        FixedCrops(kind="fixed", patch=patch),
        MultiSizeCrops(kind="multi-size", a=a, b=[16, 32]),
    ):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        figures = per_sample_milliseconds(
            TrainPatches(pairs, crops, seed=0, shots="all", flips="sid"), 10 if small else 40
        )
        torch.set_num_threads(threads)
        for name, milliseconds in figures.items():
            say(
                f"   {crops.kind:10s} {name:44s}: {milliseconds:6.2f} ms per sample "
                "(one CPU thread)"
            )
    device = Device(torch.device("cuda" if cuda else "cpu"), "tf32", channels_last=cuda)
    crops = MultiSizeCrops(kind="multi-size", a=a, b=[16, 32])
    patches = TrainPatches(pairs, crops, seed=0, shots="all", flips="sid")
    for workers in (0, 2, 4):
        batches = EpochBatches(len(patches), 1, 0, epochs=4 if small else 8)
        loader = training_loader(patches, batches, workers, pin_memory=cuda)
        start = time.perf_counter()
        first = None
        for batch in loader:
            to_network(batch, device.device, 1.0, device.memory_format)
            first = first or time.perf_counter()
        sync(device.device)
        rate = (len(batches) - 1) / (time.perf_counter() - first)
        say(
            f"   loader, multi-size crops, {workers} processes, to the device: "
            f"{rate:7.1f} samples/s after the first batch ({first - start:.2f} s)"
        )


def check_equivalence(cache: Path, cuda: bool, steps: int, small: bool) -> None:
    device = torch.device("cuda" if cuda else "cpu")
    patches = TrainPatches(
        PackedPairs(cache, "train", 1.0),
        CropPolicy("fixed", 96 if small else 512),
        seed=0,
        shots="all",
        flips="sid",
    )
    keys = [(epoch, index, index) for epoch in range(4) for index in range(len(patches))]
    batches = [to_network(default_collate([patches[key]]), device, 1.0) for key in keys]
    configs = [("float32", False), ("float32", True), ("tf32", True), ("bf16", True)]
    if not cuda:
        configs = [("float32", False), ("float32", True), ("bf16", True)]
    means = {}
    for precision, channels_last in configs:
        chosen = Device(device, precision, channels_last)
        step = gia_net_step(chosen)
        losses = []
        with chosen.math():
            for number in range(steps):
                step.start_epoch()
                inputs, target = batches[number % len(batches)]
                step(chosen.batch(inputs), target)
                losses.append(step.loss_sum.clone())
        tail = torch.stack(losses[steps // 2 :]).mean().item()
        means[(precision, channels_last)] = tail
    reference = means[("float32", False)]
    for (precision, channels_last), value in means.items():
        say(
            f"   {precision:7s} channels_last={channels_last!s:5}: mean loss of steps "
            f"{steps // 2}-{steps} {value:.5f} ({(value - reference) / reference:+.2e} "
            "relative to IEEE float32)"
        )


def check_compile(args: argparse.Namespace, seconds: float) -> None:
    """``torch.compile`` step rates, in a child process killed after ``seconds``."""
    command = [sys.executable, __file__, "--compile-child"] + (["--small"] if args.small else [])
    try:
        child = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds, env=os.environ
        )
        say(child.stdout.rstrip() or "   (no output)")
        if child.returncode:
            say("   child failed: " + " | ".join(child.stderr.strip().splitlines()[-4:]))
    except subprocess.TimeoutExpired:
        say(f"   compilation did not finish within {seconds:.0f} s: compile is not worth it here")


def compile_child(small: bool) -> None:
    cuda = torch.cuda.is_available()
    device = Device(torch.device("cuda" if cuda else "cpu"), "tf32" if cuda else "float32", cuda)
    torch.backends.cudnn.benchmark = True
    patch, steps = (96, 2) if small else (512, 100)
    for graphs in (False, True) if cuda else (False,):
        start = time.perf_counter()
        rate, peak = step_rate(device, patch, steps, graphs, compile=True)
        say(
            f"   compiled, {device.precision} channels_last={device.channels_last} "
            f"graphs={graphs}: {rate:7.1f} steps/s  peak {peak} (compiling and warm-up "
            f"{time.perf_counter() - start:.0f} s)"
        )


# -- main -------------------------------------------------------------------------------------


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
        work = Path(folder)
        height, width = (400, 560) if small else SONY_FRAME
        scenes = 4 if small else args.scenes
        with section(
            f"   sid-synth cache: {scenes} training, 1 validation, 3 test scenes of "
            f"{height} x {width}"
        ):
            start = time.perf_counter()
            cache = packed_synth_cache(
                work, scenes, height, width, workers=os.cpu_count() or 2, test=3
            )
            say(f"   generated and packed in {time.perf_counter() - start:.0f} s")
        train, runtime = loop_settings(small)
        figures = {}
        with section(
            f"4. train_variant: gia_net, multi-size crops {train['multi_size_a']} x b, joint loss, "
            f"{train['epochs']} epochs x {scenes} scenes, {train['precision']}, validation + "
            f"checkpoint every {runtime.val_every} epochs"
        ):
            bound = gpu_bound_rate(crop_sides(train, scenes), cuda) if cuda else None
            variants = [("graphs, 4 loader processes", runtime)]
            if cuda:
                variants += [
                    ("eager, 4 loader processes", replace(runtime, cuda_graphs=False)),
                    ("graphs, no loader process", replace(runtime, loader_workers=0)),
                ]
            for number, (label, chosen) in enumerate(variants):
                if figures and clock.left() < 200:
                    say(f"   {label}: skipped, {clock.left():.0f} s left")
                    continue
                figures[label] = run_loop(cache, work / f"loop{number}", train, chosen)
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
    with section("8. torch.compile of forward + loss (child process)"):
        if small and not cuda:
            say("   skipped on the CPU (minutes of compilation on two cores)")
        elif clock.left() < 60:
            say(f"   skipped: {clock.left():.0f} s left of the budget")
        else:
            check_compile(args, clock.left() - 20)
    say(f"\ngpu_check done in {args.budget - clock.left():.0f} s")


if __name__ == "__main__":
    main()

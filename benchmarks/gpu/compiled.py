"""Check 8: ``torch.compile`` of GIA-Net's forward and the joint loss.

Steps/s of the compiled step, eager and replayed from CUDA graphs, with peak memory and the
seconds compilation and warm-up took. It runs in a child process (the script again, with
``--compile-child``) that is killed when the script's budget runs out, so a compilation that
takes too long costs no more than the time left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from gianet.jobs.device import Device

from .common import say
from .step import step_rate


def check_compile(script: Path, small: bool, seconds: float) -> None:
    """``torch.compile`` step rates, in a child process of ``script`` killed after
    ``seconds``."""
    command = [sys.executable, str(script), "--compile-child"] + (["--small"] if small else [])
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
    """The child's work: the compiled step's rates, printed."""
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

"""What every GPU check uses: the script's time budget, its section reports, and device
timing (seconds per call with the device's queued work included, peak memory)."""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterator

import torch


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
    """The peak memory allocated on ``device`` since the last call (then reset)."""
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

"""From the packed cache to the training device: loader processes and device-side staging.

Loader processes (``runtime.loader_workers``) live for the whole run (persistent, one
iterator over every epoch, :data:`PREFETCH_BATCHES` batches ahead each) and only copy uint16
crops out of the memory-mapped cache into (pinned, on CUDA) memory. On CUDA each batch is
then copied to the GPU and converted (:func:`gianet.data.dataset.to_network`) on a side
stream one batch ahead, so the copy and conversion overlap the previous step. The batches'
content depends only on their keys, never on the number of processes.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator

import torch
from torch.utils.data import DataLoader

from gianet.data.dataset import EpochBatches, TrainPatches
from gianet.data.tensors import to_network
from gianet.jobs.cpus import bounded
from gianet.jobs.device import Device
from gianet.jobs.interrupt import STOP_SIGNALS

#: Batches each loader process prepares ahead of the training step.
PREFETCH_BATCHES = 4


def ignore_stop_signals(_worker: int) -> None:
    """Loader processes leave SIGTERM/SIGUSR1 to the training process, which saves the
    state and stops them."""
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)


def training_loader(
    patches: TrainPatches, batches: EpochBatches, workers: int, pin_memory: bool
) -> DataLoader:
    """One loader for the whole run: ``batches`` says which items, in which order;
    ``workers`` processes, at most the CPUs this job may use (:func:`gianet.jobs.cpus.bounded`)."""
    workers = bounded(workers, "runtime.loader_workers", least=0)
    return DataLoader(
        patches,
        batch_sampler=batches,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH_BATCHES if workers else None,
        worker_init_fn=ignore_stop_signals if workers else None,
    )


def device_batches(
    loader: Iterable[dict], device: Device, max_input: float
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The loader's batches as ``(inputs, target)`` network tensors on ``device`` (see
    :func:`~gianet.data.dataset.to_network`); on CUDA staged one batch ahead on a side
    stream."""

    def convert(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        return to_network(batch, device.device, max_input, device.memory_format)

    if not device.cuda:
        yield from map(convert, loader)
        return
    stream = torch.cuda.Stream(device.device)

    def stage(batch: dict) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.cuda.Event]:
        with torch.cuda.stream(stream):
            tensors = convert(batch)
            ready = torch.cuda.Event()
            ready.record(stream)
        return tensors, ready

    def hand_over(
        staged: tuple[tuple[torch.Tensor, torch.Tensor], torch.cuda.Event],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        tensors, ready = staged
        current = torch.cuda.current_stream()
        current.wait_event(ready)
        for tensor in tensors:
            tensor.record_stream(current)  # not reused before the step that reads it is done
        return tensors

    pending = None
    for batch in loader:
        staged = stage(batch)
        if pending is not None:
            yield hand_over(pending)
        pending = staged
    if pending is not None:
        yield hand_over(pending)

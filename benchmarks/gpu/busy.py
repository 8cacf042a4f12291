"""The GPU-busy share of a stretch of work: how much of the time a kernel was running on GPU 0,
sampled from NVML (the driver's ``libnvidia-ml``, through ctypes: no Python package needed)."""

from __future__ import annotations

import ctypes
import threading
import time

import torch


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

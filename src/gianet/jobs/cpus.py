"""Threads and processes bounded by the CPUs a job may use.

``runtime.threads``, ``runtime.loader_workers`` and pack's decoding workers say how many
threads or processes a job starts. More than the CPUs the job may run on buys no speed and, far
beyond it, exhausts the machine's process ids (``runtime.threads: 100000`` made other jobs on
the machine fail to start). These settings change how fast a job runs, never what it computes,
so a value above the machine's CPUs is clamped to them with one warning line rather than
refused: a params.yaml written for a 64-core node then still runs on a laptop. The settings
also bound them (``gianet.settings.sections.Runtime``: ``runtime.threads`` at most 1024,
``runtime.loader_workers`` at most 64) so that an absurd value is refused with the key's name
before any job starts.
"""

from __future__ import annotations

import os
import sys

_WARNED: set[tuple[str, int]] = set()


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask (what ``taskset``, cgroups' cpusets
    and SLURM's ``--cpus-per-task`` binding give it), else every CPU of the machine."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return max(os.cpu_count() or 1, 1)


def bounded(requested: int, key: str, *, least: int = 1) -> int:
    """``requested`` threads or processes, at least ``least`` and at most :func:`usable_cpus`;
    one warning line on stderr (once per key and value) when it is clamped.

    Args:
        requested: the setting's value.
        key: the setting's name for the warning (``runtime.threads``).
        least: the smallest sensible value (0 for loader processes: none).

    Returns:
        The count to use.
    """
    cpus = usable_cpus()
    used = min(max(requested, least), max(cpus, least))
    if used != requested and (key, requested) not in _WARNED:
        _WARNED.add((key, requested))
        print(
            f"gianet: warning: {key} is {requested}, but this job may use {cpus} CPU(s); "
            f"using {used}",
            file=sys.stderr,
            flush=True,
        )
    return used

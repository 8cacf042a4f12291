"""Worker processes that die with the process that started them.

``gianet pack --workers N`` decodes raws in a pool of spawned processes. Killed by a signal it
cannot catch (SIGKILL, the out-of-memory killer, a scheduler ending the job), the main
process leaves such workers behind: each waits for work that never comes, or finishes its
raw and keeps its memory, for ever. :func:`die_with_parent`, the pool's initializer, ties
each worker's life to its parent's:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (prctl(2)) makes the kernel kill the worker
  the moment the thread that started it exits (the pool starts its workers from the main
  thread, which exits only with the process);
- elsewhere (macOS, the BSDs: no such call), a daemon thread checks every
  :data:`POLL_SECONDS` whether the parent is still the one that started the worker
  (``os.getppid``: an orphan is re-parented to init or a subreaper) and ends the worker
  when it is not.

Either way a parent that died before the call is noticed at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

#: prctl(2)'s option that asks for a signal when the parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1
#: Seconds between two checks of the parent where prctl is unavailable.
POLL_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` (its parent's pid when it was started) exits.

    Called first thing in a worker (``ProcessPoolExecutor(initializer=die_with_parent,
    initargs=(os.getpid(),))``).
    """
    if not (sys.platform.startswith("linux") and _set_death_signal(signal.SIGKILL)):
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was set up
        os._exit(1)


def _set_death_signal(number: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, number)``; whether it was set."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, number, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        threading.Event().wait(POLL_SECONDS)
    os._exit(1)

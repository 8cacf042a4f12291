"""Another process holding an output's lock, for tests of two runs at once.

The holder is a real second process (``flock`` locks exclude processes, and a lock's record
names its holder's pid), started with this checkout's ``src`` first on its path.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
_HOLD = """
import sys, time
from gianet.jobs.locks import output_lock
with output_lock(sys.argv[1], command=sys.argv[2]):
    print("held", flush=True)
    time.sleep(600)
"""


@contextlib.contextmanager
def hold_lock(output: str | Path, command: str = "gianet train --model x") -> Iterator:
    """A process holding ``output``'s lock until the block ends (then it is killed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(output), command], stdout=subprocess.PIPE, env=env
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()

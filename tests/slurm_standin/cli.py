"""Entry point of the stand-in's shims: ``python cli.py <command> [arguments...]``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: import tests

from tests.slurm_standin.commands import COMMANDS  # noqa: E402
from tests.slurm_standin.runner import run  # noqa: E402

if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    sys.exit(run(rest[0]) if command == "_run" else COMMANDS[command](rest))

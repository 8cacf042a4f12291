"""SID split lists: parsing, exposure ratios and the test protocol.

A list line reads ``./Sony/short/00001_00_0.04s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8``:
short exposure, long exposure (or a 16-bit ground-truth image), ISO and aperture. Paths are
relative to the dataset root. The scene id's first digit gives the split (0 train, 1 test,
2 val). The exposure ratio comes from the file names exactly as SID's code computes it:
``min(long_seconds / short_seconds, 300)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gianet.errors import GianetError

#: Longest amplification SID applies (its code clips the ratio at 300).
MAX_RATIO = 300.0

_NAME = re.compile(r"^(?P<scene>\d{5})_(?P<shot>\d{2})_(?P<seconds>\d+(?:\.\d+)?)s$")


class ListError(GianetError, ValueError):
    """A split list line is malformed or names a file that does not exist."""


@dataclass(frozen=True)
class Pair:
    """One training or test pair of a SID list.

    Attributes:
        short: path of the short-exposure raw, relative to the dataset root (``./`` stripped).
        long: path of the long-exposure raw or 16-bit ground-truth image, relative likewise.
        scene: scene id (``00001``: train, ``1xxxx``: test, ``2xxxx``: val).
        shot: index of the short exposure within the scene (``_00``, ``_01`` ...).
        ratio: exposure ratio ``min(long_seconds / short_seconds, 300)``.
        iso: ISO from the list (0 when absent).
    """

    short: str
    long: str
    scene: int
    shot: int
    ratio: float
    iso: int


def exposure_seconds(path: str) -> tuple[int, int, float]:
    """Scene id, shot index and exposure time in seconds from a SID file name.

    ``00001_00_0.04s.ARW`` gives ``(1, 0, 0.04)``.
    """
    # Names such as 00001_00_0.04s.ARW hold a decimal point: strip only the extension.
    stem = Path(path).name.rsplit(".", 1)[0]
    match = _NAME.match(stem)
    if not match:
        raise ValueError(
            f"{path}: file name does not follow SID's SCENE_SHOT_SECONDSs pattern "
            "(e.g. 00001_00_0.04s.ARW)"
        )
    return int(match["scene"]), int(match["shot"]), float(match["seconds"])


def exposure_ratio(short: str, long: str) -> float:
    """SID's amplification ratio ``min(long_seconds / short_seconds, 300)``."""
    short_seconds = exposure_seconds(short)[2]
    long_seconds = exposure_seconds(long)[2]
    return min(long_seconds / short_seconds, MAX_RATIO)


def _strip(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def parse_list(list_path: str | Path, root: str | Path | None = None) -> list[Pair]:
    """Read a SID list file.

    Args:
        list_path: the list, e.g. ``Sony_train_list.txt``.
        root: the dataset root the list's paths are relative to. When given, every file the
            list names must exist there; all missing files are reported at once.

    Raises:
        ListError: naming the list file, the line number and the fix.
    """
    list_path = Path(list_path)
    pairs: list[Pair] = []
    problems: list[str] = []
    try:
        text = list_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ListError(
            f"{list_path}: not UTF-8 text (byte {exc.start}); a SID list holds lines "
            "'SHORT LONG [ISO] [F]': restore the file"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{list_path}:{number}"
        if len(fields) < 2:
            problems.append(f"{where}: expected 'SHORT LONG [ISO] [F]', got {line!r}")
            continue
        short, long = _strip(fields[0]), _strip(fields[1])
        try:
            scene, shot, _ = exposure_seconds(short)
            ratio = exposure_ratio(short, long)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        iso = next((int(f[3:]) for f in fields[2:] if re.fullmatch(r"ISO\d+", f)), 0)
        if root is not None:
            for name in (short, long):
                if not (Path(root) / name).is_file():
                    problems.append(
                        f"{where}: {name} does not exist under {root}; restore the file or "
                        "remove the line"
                    )
        pairs.append(Pair(short, long, scene, shot, ratio, iso))
    if problems:
        raise ListError("\n".join(problems))
    if not pairs:
        raise ListError(f"{list_path}: the list is empty")
    return pairs


class Selection(BaseModel):
    """Which pairs of a split a job uses: a protocol of its own (the test protocol for
    evaluation, ``evaluate.test_exposures``; the validation split for training,
    ``train.val_exposures``), never the cache's.

    Attributes:
        exposures: ``"first"`` keeps each scene's ``_00`` shots (SID's test_Sony.py),
            ``"all"`` every short exposure (the paper, section 4.3).
        exclude_scenes: scene ids left out (SID's README drops 10034, 10045 and 10172 as
            misaligned; ``sid.exclude_scenes``).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    exposures: Literal["first", "all"]
    exclude_scenes: list[int]

    def apply(self, pairs: list[Pair]) -> list[Pair]:
        """The pairs this selection keeps, in their order."""
        excluded = set(self.exclude_scenes)
        return [
            p for p in pairs if p.scene not in excluded and (self.exposures == "all" or p.shot == 0)
        ]

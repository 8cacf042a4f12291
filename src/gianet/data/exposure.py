"""The exposure time a raw file was taken with, for ``gianet enhance --target-exposure``.

rawpy exposes LibRaw's shutter time (``RawPy.other.shutter_speed``), but LibRaw fills it in
even when the camera recorded none: Magic Lantern's DNGs store ExposureTime 0 and APEX
ShutterSpeedValue 0, which LibRaw turns into ``2**-0 = 1`` second. So the sources are tried
in this order, and the first that has an answer decides:

1. A SID-style file name, ``00001_00_0.04s.ARW``: SID computes its ratios from the names.
2. The ``ExposureTime`` tag of a TIFF-based raw (DNG, ARW, NEF, CR2, PEF, KDC ...), in IFD0
   (TIFF/EP) or in the EXIF IFD, read with tifffile (tags only, no pixel data). A recorded
   0 means the camera did not record the time: the answer is "unknown".
3. LibRaw's shutter time, for files that are not TIFF (RAF, CR3, ORF, RW2 ...) or hold no
   ExposureTime tag, when it is positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import rawpy

from gianet.data.lists import exposure_seconds


@dataclass(frozen=True)
class Exposure:
    """An exposure time and where it was read.

    Attributes:
        seconds: exposure time in seconds, > 0.
        source: ``"file name"``, ``"ExposureTime tag"`` or ``"LibRaw shutter time"``.
    """

    seconds: float
    source: str


def exposure_from_name(path: Path) -> float | None:
    """Seconds from a SID-style name (``00001_00_0.04s.ARW`` -> 0.04), else ``None``."""
    try:
        return exposure_seconds(path.name)[2]
    except ValueError:
        return None


def exposure_time_tag(path: Path) -> float | None:
    """The TIFF/EXIF ``ExposureTime`` in seconds (0.0 when recorded as 0), or ``None`` when
    the file is not TIFF-based or holds no such tag."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            tags = tiff.pages[0].tags
            value = tags.valueof("ExposureTime")
            if value is None:
                value = (tags.valueof("ExifTag") or {}).get("ExposureTime")
    except (tifffile.TiffFileError, OSError, ValueError, IndexError):
        return None
    if value is None:
        return None
    numerator, denominator = value
    return numerator / denominator if denominator else 0.0


def libraw_shutter_time(path: Path) -> float:
    """LibRaw's shutter time in seconds; 0.0 when LibRaw knows none or cannot read the file."""
    try:
        with rawpy.imread(str(path)) as raw:
            return float(raw.other.shutter_speed)
    except (rawpy.LibRawError, OSError):
        return 0.0


def read_exposure(path: str | Path) -> Exposure | None:
    """The exposure time of a raw file (see the module docstring), or ``None`` if unknown."""
    path = Path(path)
    seconds = exposure_from_name(path)
    if seconds is not None and seconds > 0:
        return Exposure(seconds, "file name")
    tagged = exposure_time_tag(path)
    if tagged is not None:
        return Exposure(tagged, "ExposureTime tag") if tagged > 0 else None
    shutter = libraw_shutter_time(path)
    return Exposure(shutter, "LibRaw shutter time") if shutter > 0 else None

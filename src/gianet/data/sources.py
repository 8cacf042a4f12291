"""The dataset's record: the size and sha256 of every raw its split lists name.

The rule that makes a camera's dataset (``synth``, or ``sid_unpack``) writes the record beside
its split lists, ``<root>/<Camera>_sources.tsv``::

    # gianet dataset record: every file the Sony split lists name
    path                           bytes      sha256
    Sony/long/00001_00_10s.dng     1056768    9f2c...

It is the data's identity in the workflow: packing, training and evaluation take it as an
input, and Snakemake compares a small input's checksum with the one it recorded (files under
``--max-checksum-file-size``, 1 MB), so a dataset whose content changes retrains what used it,
while the same dataset written again (a DVC checkout, a copy) changes nothing. ``gianet
pack`` checks every file it decodes against the record.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from gianet import atomic
from gianet.errors import GianetError
from gianet.fetch.checksums import is_sha256, sha256_of
from gianet.paths import SPLITS, list_name

HEADER = ("path", "bytes", "sha256")


class RecordError(GianetError, ValueError):
    """A dataset record cannot be read, or a file differs from it."""


def listed_files(root: Path, camera: str) -> list[str]:
    """Every file the camera's split lists in ``root`` name, relative to ``root``, sorted."""
    from gianet.data.lists import parse_list

    names = set()
    for split in SPLITS:
        for pair in parse_list(root / list_name(camera, split), root):
            names.update((pair.short, pair.long))
    return sorted(names)


def record_sources(root: Path, camera: str, record: Path, *, progress: bool = True) -> Path:
    """Hash every file the camera's lists name and write the record (atomically).

    Raises:
        gianet.data.lists.ListError: a list is missing or malformed.
        OSError: a listed file cannot be read (its path is named).
    """
    rows = []
    for name in tqdm(listed_files(root, camera), desc=f"recording {camera}", disable=not progress):
        path = root / name
        rows.append(f"{name}\t{path.stat().st_size}\t{sha256_of(path)}\n")
    text = f"# gianet dataset record: every file the {camera} split lists name\n"
    return atomic.write_text(record, text + "\t".join(HEADER) + "\n" + "".join(rows))


def read_record(record: Path) -> dict[str, tuple[int, str]]:
    """Relative path -> (bytes, sha256) of a record.

    Raises:
        RecordError: naming the record, the line and the fix.
    """
    fix = "it is written with the dataset: rerun the rule that made it (synth or sid_unpack)"
    try:
        lines = record.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise RecordError(f"{record}: no dataset record; {fix}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{record}: cannot be read ({exc}); {fix}") from None
    entries: dict[str, tuple[int, str]] = {}
    body = [line for line in lines if line and not line.startswith("#")]
    if not body or tuple(body[0].split("\t")) != HEADER:
        raise RecordError(f"{record}: not a gianet dataset record (no header line); {fix}")
    for number, line in enumerate(body[1:], 2):
        fields = line.split("\t")
        if len(fields) != 3 or not fields[1].isdigit() or not is_sha256(fields[2]):
            raise RecordError(f"{record}: line {number} is not 'path, bytes, sha256'; {fix}")
        entries[fields[0]] = (int(fields[1]), fields[2].lower())
    return entries


def check_against_record(
    name: str, size: int, sha256: str, record: dict[str, tuple[int, str]], record_path: Path
) -> None:
    """Raise unless ``name``'s content (``size``, ``sha256``) is what the record says.

    Raises:
        RecordError: naming the file, what differs and how to restore it.
    """
    expected = record.get(name)
    if expected is None:
        raise RecordError(
            f"{name}: not in the dataset record {record_path}; rerun the rule that made the "
            "dataset (synth or sid_unpack)"
        )
    if expected != (size, sha256):
        raise RecordError(
            f"{name}: its content differs from the dataset record {record_path} ({size} bytes, "
            f"sha256 {sha256[:12]}... against {expected[0]} bytes, {expected[1][:12]}...): it "
            "is not the file the dataset was made with. Restore it (`snakemake --forcerun "
            "synth` or `sid_unpack` rewrites the dataset; `dvc checkout` restores a versioned "
            "one)"
        )

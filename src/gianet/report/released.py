"""SID's released weights scored by gianet, beside the published scores of the same weights.

SID (Chen et al., CVPR 2018) released its trained SID-Net per camera; the workflow imports
and evaluates them under each test protocol (:mod:`gianet.stages.released`). This table puts
each evaluation beside the scores the PyTorch port of cydonia999 published for the same
weights (github.com/cydonia999/Learning_to_See_in_the_Dark_PyTorch, README, "PSNR/SSIM
results", commit 1d17d07), under the same two protocols: every pair of SID's test list
("all") and each scene's ``_00`` shots ("00 only"), and beside SID's paper's own numbers.
The published numbers, with their source, are ``released_results.csv``.

A match says that packing, ground truth, the test protocol and the metrics agree with an
independent implementation; the pair counts beside the scores tell a differing test set
(SID's README leaves three misaligned Sony scenes out, the port keeps them) from a differing
computation.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path

from gianet import paths
from gianet.report.model import Block, Cell, Column, Ours, Paper, Row, Status, Table, Text
from gianet.report.protocol import recorded_value
from gianet.report.results_tables import dataset_words, ours_header
from gianet.report.runs import SUMMARY_KEYS, ReportInputError

#: The table's columns: PSNR, SSIM (to the port's four decimals) and the test pairs.
COLUMNS = (
    Column("psnr", "PSNR", True, 2),
    Column("ssim", "SSIM", True, 4),
    Column("n_images", "pairs", None, 0),
)
#: How a protocol's exposures read in a row's label.
EXPOSURE_WORDS = {"all": "all exposures", "first": "_00 shots"}
#: The header of the published scores' columns.
PUBLISHED_HEADER = "published"
#: The row of SID's own published numbers.
SID_PAPER_LABEL = "SID's paper"


@cache
def published() -> dict[tuple[str, str, str], dict[str, str]]:
    """``(camera, protocol, source)`` -> ``psnr``, ``ssim``, ``pairs`` and ``note`` as
    printed (``""``: not published). ``camera`` lower-case; ``protocol`` ``all`` or
    ``first`` for the port (``source`` ``port``), ``""`` for SID's paper (``paper``)."""
    with files("gianet.report").joinpath("released_results.csv").open(newline="") as handle:
        return {
            (row["camera"], row["protocol"], row["source"]): row for row in csv.DictReader(handle)
        }


def read_released(summaries: Sequence[str | Path]) -> list[dict]:
    """The evaluation summaries of SID's released weights, each with its file as ``path``.

    Raises:
        ReportInputError: a file that cannot be read, lacks a key or records no protocol.
    """
    read = []
    for path in summaries:
        try:
            summary = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ReportInputError(f"{path}: cannot be read ({exc}); evaluate it again") from None
        missing = [key for key in (*SUMMARY_KEYS, "protocol") if key not in summary]
        if missing:
            raise ReportInputError(f"{path}: lacks {missing}; evaluate it again")
        read.append(summary | {"path": str(path)})
    return read


def _order(summary: dict) -> tuple[bool, bool]:
    """All exposures before the ``_00`` shots; under each, every scene (the published
    scores' test set) before gianet's protocol with scenes left out."""
    protocol = summary["protocol"]
    return (protocol["test_exposures"] != "all", bool(protocol["exclude_scenes"]))


def _label(summary: dict, every_scene: bool) -> str:
    """``all exposures``, ``_00 shots``; where a camera's scenes are left out in some
    evaluations, ``..., 3 scenes out`` or ``..., every scene``."""
    protocol = summary["protocol"]
    label = EXPOSURE_WORDS[protocol["test_exposures"]]
    excluded = len(protocol["exclude_scenes"])
    if excluded:
        return f"{label}, {excluded} scene{'s' if excluded > 1 else ''} out"
    return f"{label}, every scene" if every_scene else label


def _ours(summary: dict, key: str) -> Ours:
    value = summary.get(key)
    if value is None:
        unavailable = key in (summary.get("unavailable") or {})
        return Ours(Status.UNAVAILABLE if unavailable else Status.NOT_COMPUTED)
    return Ours.of([float(value)], [summary["path"]])


def _published(row: dict[str, str] | None) -> tuple[Paper, ...]:
    values = [row.get(key, "") if row else "" for key in ("psnr", "ssim", "pairs")]
    return tuple(Paper(Status.VALUE, value) if value else Paper() for value in values)


def released_table(
    summaries: Sequence[dict], cameras: Sequence[str], dataset: str, configuration: str = ""
) -> Table:
    """The released weights' table: per camera, one row per evaluation (gianet's protocol
    first), each beside the port's score under the same exposures, then SID's paper's row.

    Args:
        summaries: :func:`read_released`'s, one per (camera, protocol).
        cameras: the blocks' order; cameras without a summary have no block.
        dataset: where the evaluations were measured (``sid``, ``sid-synth``).
        configuration: a phrase naming the run's configuration for the caption.
    """
    blocks = []
    for camera in cameras:
        ours = sorted((s for s in summaries if s["camera"] == camera), key=_order)
        if not ours:
            continue
        every_scene = any(s["protocol"]["exclude_scenes"] for s in ours)
        rows = []
        for summary in ours:
            exposures = summary["protocol"]["test_exposures"]
            theirs = _published(published().get((camera.lower(), exposures, "port")))
            cells = tuple(
                Cell(_ours(summary, column.key), paper)
                for column, paper in zip(COLUMNS, theirs, strict=True)
            )
            model = Path(summary["path"]).parent.name
            rows.append(Row(_label(summary, every_scene), model, "sid_net", cells))
        theirs = _published(published().get((camera.lower(), "", "paper")))
        rows.append(
            Row(
                SID_PAPER_LABEL,
                "SID's paper",
                None,
                tuple(Cell(Ours(Status.QUOTED), paper) for paper in theirs),
            )
        )
        blocks.append(Block(camera, tuple(rows)))
    if not blocks:
        raise ReportInputError("no evaluation of SID's released weights for the cameras given")
    return Table(
        key=paths.RELEASED_TABLE,
        number=None,
        dataset=dataset,
        caption=_caption(dataset, configuration),
        protocol=_protocol(summaries),
        ours_header=ours_header(dataset),
        columns=COLUMNS,
        blocks=tuple(blocks),
        notes=_notes(dataset, blocks),
        published_header=PUBLISHED_HEADER,
    )


def _caption(dataset: str, configuration: str) -> Text:
    return (
        "SID-Net with SID's released weights (Chen et al., CVPR 2018; its TensorFlow "
        "checkpoints imported by gianet import-sid), evaluated by ",
        *dataset_words(dataset),
        ", beside the scores of the same weights published by the PyTorch port of cydonia999 "
        "(github.com/cydonia999/Learning_to_See_in_the_Dark_PyTorch, README) under the same "
        "exposures: every pair of SID's test list, or each scene's _00 shots."
        + (f" Configuration: {configuration}." if configuration else "")
        + " Δ: ours − published; pairs: the test pairs each score averages (a differing count "
        "is a differing test set: SID's README leaves three misaligned Sony scenes out of "
        "quantitative results, the port keeps them); –: not published. †: SID's own "
        "published numbers, test pairs not stated (SID's released code computes no SSIM).",
    )


def _protocol(summaries: Sequence[dict]) -> str:
    """The test sets of the rows and what every evaluation shares."""
    excluded = sorted({scene for s in summaries for scene in s["protocol"]["exclude_scenes"]})
    out = ", ".join(map(str, excluded))
    out = f"scenes {out} out (sid.exclude_scenes); " if out else ""
    levels = recorded_value(summaries, "levels")
    return (
        f"Protocol: rows as labelled, over SID's test list ({out}_00: each scene's first "
        f"shot); {levels}; each frame whole, the input amplified by its exposure ratio and "
        "clipped at 1 (SID's test scripts), the output clipped to [0, 1]; PSNR and SSIM as "
        "every table of gianet's computes them."
    )


def _notes(dataset: str, blocks: Sequence[Block]) -> tuple[str, ...]:
    notes = []
    if dataset != "sid":
        notes.append(
            f"Our numbers are measured on {dataset}, not on SID: Δ against SID's published "
            "scores measures nothing here."
        )
    for index, column in enumerate(COLUMNS):
        statuses = {row.cells[index].ours.status for block in blocks for row in block.rows}
        if Status.NOT_COMPUTED in statuses or Status.UNAVAILABLE in statuses:
            notes.append(f"{column.header}: not computed (evaluate.metrics).")
    return tuple(notes)

"""The report's tables as data: what every renderer (LaTeX, HTML, CSV, JSON) draws from.

A :class:`Table` is one of the paper's tables with our numbers beside it. Its rows sit in
blocks (one per camera, stacked); each row has one :class:`Cell` per :class:`Column` holding
our value (:class:`Ours`: mean and standard deviation over seeds, or why there is none) and
the paper's (:class:`Paper`: the number as printed, or none). Under the table come the
paired per-image statistics of the comparisons the paper makes (:class:`Comparison`).

Text in the model is plain Unicode (``γ``, ``×``, ``Δ``, ``–``); captions may hold
:class:`Emph` spans. Each renderer writes the text its own way; none reads another's output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from gianet.domain.metrics import METRICS
from gianet.report.stats import PairedDifference


class Status(str, Enum):
    """Why a cell holds a number or not."""

    VALUE = "value"
    #: The variant was not trained and evaluated in this run.
    NOT_RUN = "not run"
    #: The metric was not asked for (``evaluate.metrics``).
    NOT_COMPUTED = "not computed"
    #: The metric was asked for but could not be computed (its weights were missing).
    UNAVAILABLE = "unavailable"
    #: The paper gives no number here.
    NOT_REPORTED = "not reported"
    #: The paper quotes the model from another publication; there is nothing of ours.
    QUOTED = "quoted only"


@dataclass(frozen=True)
class Emph:
    """A span of caption text to emphasise."""

    text: str


#: Rich text: plain Unicode strings and emphasised spans, in order.
Text = tuple["str | Emph", ...]


def plain(text: Text) -> str:
    """``text`` without its emphasis."""
    return "".join(span.text if isinstance(span, Emph) else span for span in text)


@dataclass(frozen=True)
class Ours:
    """One of our numbers.

    Attributes:
        status: :attr:`Status.VALUE` when ``mean`` holds a number, else why not.
        mean: mean over seeds of each seed's value (a mean over test images), any real
            (PSNR in dB, SSIM in [-1, 1], LPIPS and PieAPP >= 0, costs > 0); may be ±inf.
        sd: sample standard deviation over seeds (ddof 1); ``None`` with one seed.
        seeds: how many seeds the mean is over (0 without a value).
        sources: the files each seed's value was read from, in seed order.
    """

    status: Status
    mean: float | None = None
    sd: float | None = None
    seeds: int = 0
    sources: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Sequence[float], sources: Sequence[str] = ()) -> Ours:
        """The mean and (with two or more) standard deviation of per-seed ``values``."""
        if not values:
            raise ValueError("no per-seed values to average")
        mean = math.fsum(values) / len(values)
        sd = None
        if len(values) > 1:
            sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
        return cls(Status.VALUE, mean, sd, len(values), tuple(map(str, sources)))


@dataclass(frozen=True)
class Paper:
    """The paper's number as printed (``"29.72"``), or :attr:`Status.NOT_REPORTED`."""

    status: Status = Status.NOT_REPORTED
    text: str = ""

    @property
    def value(self) -> float | None:
        return float(self.text) if self.status is Status.VALUE else None


@dataclass(frozen=True)
class Column:
    """A measured quantity: a metric, or a cost.

    Attributes:
        key: the summary, CSV or cost key (``psnr``, ``params_millions``...).
        header: as tables print it (``PSNR``).
        higher_is_better: ``True``/``False`` mark the best value of each block in bold;
            ``None`` (costs) marks none.
        decimals: digits printed after the point.
    """

    key: str
    header: str
    higher_is_better: bool | None
    decimals: int

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]

    def format(self, value: float | None, signed: bool = False) -> str:
        """``value`` with this column's decimals (``"–"`` for none; ``"∞"`` for infinity)."""
        if value is None or math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        text = f"{value:+.{self.decimals}f}" if signed else f"{value:.{self.decimals}f}"
        return text.replace("-", "−")


@dataclass(frozen=True)
class Cell:
    """One (row, column): ours, the paper's, and whether each is its block's best."""

    ours: Ours
    paper: Paper
    best_ours: bool = False
    best_paper: bool = False

    @property
    def difference(self) -> float | None:
        """Ours minus the paper's, when both exist."""
        if self.ours.status is Status.VALUE and self.paper.status is Status.VALUE:
            return self.ours.mean - self.paper.value
        return None


@dataclass(frozen=True)
class Row:
    """A model of the paper's table.

    Attributes:
        label: as printed (``"(9) GIA-Net"``).
        model: the paper's name of the row (``"9"``, ``"GIA-Net"``).
        variant: the variant reproducing it; ``None`` for a model the paper only quotes.
        cells: one per column of the table, in order.
    """

    label: str
    model: str
    variant: str | None
    cells: tuple[Cell, ...]

    @property
    def quoted(self) -> bool:
        return self.variant is None


@dataclass(frozen=True)
class Block:
    """The rows of one camera."""

    camera: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Comparison:
    """A comparison the paper makes, measured per image on one camera and metric.

    Attributes:
        camera: ``"Sony"`` or ``"Fuji"``.
        label: e.g. ``"(6) vs (1)"`` or ``"GIA-Net vs DnCNN"``; A is the GIA model.
        a, b: the variants compared (difference A − B).
        metric: the metric's key; its direction decides the wins.
        result: the statistics; ``None`` when ``missing`` says why there are none.
    """

    camera: str
    label: str
    a: str
    b: str
    metric: str
    result: PairedDifference | None = None
    missing: str = ""


@dataclass(frozen=True)
class Table:
    """One table of the report.

    Attributes:
        key: its file stem and identifier (``table1``, ``table1_first``, ``table4_cost``,
            ``table_released``).
        number: the paper's table number (1 to 4); ``None`` for a table of gianet's own (SID's
            released weights).
        dataset: where our numbers were measured (``sid-synth``, ``sid``...).
        caption: what the table is, the dataset, the configuration and the markers.
        protocol: the protocol our numbers follow, one sentence.
        ours_header: how the column of our numbers is headed (``ours``; ``synth.`` for
            sid-synth, so that its numbers never read as SID's).
        columns: the measured quantities, in order.
        blocks: the cameras' rows, stacked.
        notes: sentences under the table (metrics not computed, quoted models...).
        comparisons: the paired statistics printed under the table.
        comparisons_caption: what the statistics are (resamples, seed, confidence).
        published_header: how the column of published numbers is headed (``paper``: the
            GIA-Net paper's; ``published`` for others').
    """

    key: str
    number: int | None
    dataset: str
    caption: Text
    protocol: str
    ours_header: str
    columns: tuple[Column, ...]
    blocks: tuple[Block, ...]
    notes: tuple[str, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    comparisons_caption: str = ""
    published_header: str = "paper"

    def entries(self) -> Iterable[tuple[Block, Row, Column, Cell]]:
        """Every cell with its block, row and column."""
        for block in self.blocks:
            for row in block.rows:
                for column, cell in zip(self.columns, row.cells, strict=True):
                    yield block, row, column, cell


def mark_best(columns: Sequence[Column], rows: Sequence[Row]) -> tuple[Row, ...]:
    """``rows`` (one block) with the best of ours and of the paper's in each column flagged.

    Values compare as printed (rounded to the column's decimals), so ties print alike and are
    all flagged. Columns without a direction flag nothing.
    """
    best: list[tuple[float | None, float | None]] = []
    for index, column in enumerate(columns):
        if column.higher_is_better is None:
            best.append((None, None))
            continue
        pick = max if column.higher_is_better else min

        def rounded(value: float | None, column: Column = column) -> float | None:
            if value is None or math.isnan(value):
                return None
            return round(value, column.decimals) if math.isfinite(value) else value

        ours = [rounded(row.cells[index].ours.mean) for row in rows]
        paper = [rounded(row.cells[index].paper.value) for row in rows]
        best.append(
            (
                pick((v for v in ours if v is not None), default=None),
                pick((v for v in paper if v is not None), default=None),
            )
        )
    marked = []
    for row in rows:
        cells = []
        for column, cell, (best_ours, best_paper) in zip(columns, row.cells, best, strict=True):
            ours = cell.ours.mean
            ours_value = round(ours, column.decimals) if ours is not None else None
            paper = cell.paper.value
            cells.append(
                replace(
                    cell,
                    best_ours=best_ours is not None
                    and ours is not None
                    and (ours_value == best_ours if math.isfinite(ours) else ours == best_ours),
                    best_paper=best_paper is not None
                    and paper is not None
                    and round(paper, column.decimals) == best_paper,
                )
            )
        marked.append(replace(row, cells=tuple(cells)))
    return tuple(marked)


def grouped(comparisons: Sequence[Comparison]) -> dict[str, dict[str, dict[str, Comparison]]]:
    """camera -> pair label -> metric -> comparison, in order."""
    table: dict[str, dict[str, dict[str, Comparison]]] = {}
    for comparison in comparisons:
        pair = table.setdefault(comparison.camera, {}).setdefault(comparison.label, {})
        pair[comparison.metric] = comparison
    return table


def block_heading(camera: str, pairs: Mapping[str, Mapping[str, Comparison]]) -> str:
    """A camera's heading in the statistics: ``"Sony, 6 test images"`` (a range when the
    comparisons paired different numbers)."""
    counts = sorted(
        {c.result.n_images for by_metric in pairs.values() for c in by_metric.values() if c.result}
    )
    if not counts:
        return camera
    span = f"{counts[0]}" + (f"–{counts[-1]}" if len(counts) > 1 else "")
    return f"{camera}, {span} test images"


def interval_cells(comparison: Comparison) -> tuple[str, str, str]:
    """``("+0.83*", "[+0.41, +1.20]", "3/1")``: the mean difference (``*`` when its interval
    excludes 0), the interval, and the images on which A / B is better (``/ties`` when
    any), as plain text."""
    result = comparison.result
    spec = METRICS[comparison.metric]
    column = Column(spec.name, spec.header, spec.higher_is_better, spec.decimals)
    mean, low, high = (
        column.format(v, signed=True) for v in (result.mean, result.low, result.high)
    )
    star = "*" if result.excludes_zero else ""
    wins = f"{result.wins_a}/{result.wins_b}" + (f"/{result.ties}" if result.ties else "")
    return mean + star, f"[{low}, {high}]", wins


def short_reason(missing: str) -> str:
    """A cell's reason for having no statistics: ``not run`` or ``n/a``."""
    return "not run" if missing.endswith("not run") else "n/a"

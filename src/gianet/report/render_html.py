"""Tables as one self-contained HTML page (inline style, no external resource), from the
table model alone: for a browser and for ``snakemake --report``.

Each table is an HTML ``<table>``: the caption, the metric groups (ours, the paper's, Δ),
the cameras' rows stacked, the protocol and notes in its footer; the paired statistics follow
in a ``<table class="statistics">`` with their own caption.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from gianet.domain.metrics import METRICS
from gianet.report.model import (
    Cell,
    Column,
    Comparison,
    Emph,
    Status,
    Table,
    Text,
    block_heading,
    grouped,
    interval_cells,
    short_reason,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; color: #222; }
table { border-collapse: collapse; margin: 1.5em 0 0.5em; font-size: 0.85em; }
caption { caption-side: top; text-align: left; padding-bottom: 0.5em; line-height: 1.4; }
th, td { padding: 0.2em 0.5em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead tr:first-child th { border-top: 2px solid #222; }
thead tr:last-child th { border-bottom: 1px solid #222; }
tbody tr.block th { text-align: left; font-style: italic; border-top: 1px solid #888; }
tbody:last-of-type tr:last-child td, tbody:last-of-type tr:last-child th
  { border-bottom: 2px solid #222; }
td.note { text-align: left; white-space: normal; font-size: 0.9em; color: #444; }
td.ours { background: #f3f6fb; }
span.sd { font-size: 0.8em; color: #555; }
p.statistics { font-size: 0.8em; color: #444; max-width: 70em; }
table.statistics { font-size: 0.8em; margin-top: 0.2em; }
""".strip()
NO_VALUE = {Status.NOT_RUN: "–", Status.NOT_COMPUTED: "n/a", Status.UNAVAILABLE: "n/a"}


def html_rich(text: Text) -> str:
    """Rich text as HTML (escaped; emphasis as ``<em>``)."""
    return "".join(
        f"<em>{html.escape(span.text)}</em>" if isinstance(span, Emph) else html.escape(span)
        for span in text
    )


def render_page(tables: Sequence[Table], title: str) -> str:
    """Every table on one HTML page titled ``title``."""
    body = "\n".join(render_table(table) for table in tables)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def render_table(table: Table) -> str:
    """One table (and its statistics) as a ``<section>``."""
    width = 1 + 3 * len(table.columns)
    head = (
        "<thead>\n<tr><th></th>"
        + "".join(f"<th colspan=3>{html.escape(c.header)} {c.arrow}</th>" for c in table.columns)
        + "</tr>\n<tr><th>Model</th>"
        + "".join(
            f"<th>{html.escape(table.ours_header)}</th>"
            f"<th>{html.escape(table.published_header)}</th><th>Δ</th>"
            for _ in table.columns
        )
        + "</tr>\n</thead>"
    )
    bodies = []
    for block in table.blocks:
        rows = [f'<tr class="block"><th colspan={width}>{html.escape(block.camera)}</th></tr>']
        for row in block.rows:
            cells = "".join(
                _cell(column, cell) for column, cell in zip(table.columns, row.cells, strict=True)
            )
            name = html.escape(row.label) + ("†" if row.quoted else "")
            rows.append(f"<tr><th>{name}</th>{cells}</tr>")
        bodies.append("<tbody>\n" + "\n".join(rows) + "\n</tbody>")
    note = " ".join(filter(None, (table.protocol, *table.notes)))
    parts = [
        f'<section id="{html.escape(table.key)}">',
        "<table>",
        f"<caption>{html_rich(table.caption)}</caption>",
        head,
        *bodies,
        f'<tfoot><tr><td class="note" colspan={width}>{html.escape(note)}</td></tr></tfoot>',
        "</table>",
    ]
    if table.comparisons:
        parts += [
            f'<p class="statistics">{html.escape(table.comparisons_caption)}</p>',
            _statistics(table.comparisons),
        ]
    return "\n".join([*parts, "</section>"])


def _cell(column: Column, cell: Cell) -> str:
    ours = cell.ours
    if ours.status is Status.VALUE:
        text = html.escape(column.format(ours.mean))
        if cell.best_ours:
            text = f"<strong>{text}</strong>"
        if ours.sd is not None:
            text += f' <span class="sd">± {html.escape(column.format(ours.sd))}</span>'
    else:
        text = NO_VALUE.get(ours.status, "")
    theirs = html.escape(cell.paper.text) if cell.paper.status is Status.VALUE else "–"
    if cell.best_paper:
        theirs = f"<strong>{theirs}</strong>"
    difference = cell.difference
    delta = column.format(difference, signed=True) if difference is not None else ""
    return f'<td class="ours">{text}</td><td>{theirs}</td><td>{html.escape(delta)}</td>'


def _statistics(comparisons: Sequence[Comparison]) -> str:
    metrics = list(dict.fromkeys(c.metric for c in comparisons))
    width = 1 + 2 * len(metrics)
    rows = [
        "<tr><th>A vs B</th>"
        + "".join(
            f"<th>{html.escape(METRICS[m].header)} Δ [CI]</th><th>wins A/B</th>" for m in metrics
        )
        + "</tr>"
    ]
    for camera, pairs in grouped(comparisons).items():
        heading = html.escape(block_heading(camera, pairs))
        rows.append(f'<tr class="block"><th colspan={width}>{heading}</th></tr>')
        for label, by_metric in pairs.items():
            cells = [f"<th>{html.escape(label)}</th>"]
            for metric in metrics:
                comparison = by_metric.get(metric)
                if comparison is None or comparison.result is None:
                    why = short_reason(comparison.missing if comparison else "")
                    cells.append(f"<td colspan=2>{html.escape(why)}</td>")
                    continue
                mean, interval, wins = interval_cells(comparison)
                cells.append(
                    f"<td>{html.escape(mean)} {html.escape(interval)}</td>"
                    f"<td>{html.escape(wins)}</td>"
                )
            rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<table class="statistics">\n' + "\n".join(rows) + "\n</table>"

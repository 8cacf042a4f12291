"""Tables as LaTeX (booktabs), from the table model alone.

Each table is a ``table`` float: its caption (what the table is, the dataset, the
configuration, the markers and the protocol), a ``tabular`` with one column group per
metric (ours, the paper's, Δ) and the cameras' rows stacked, the notes, and the paired
statistics in a second ``tabular`` beneath. Each ``tabular`` is set in a box and scaled down
to ``\\linewidth`` only when it is wider (``\\resizebox``), so every table fits a standard
article's text width; each box's natural width is written to the LaTeX log
(``gianet-fit: <key> <width> in <linewidth>``). Needs ``booktabs`` and ``graphicx``.
"""

from __future__ import annotations

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

#: LaTeX's special characters and how :func:`latex_text` writes them.
SPECIALS = {
    "\\": r"\textbackslash{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
}
#: The model's Unicode symbols, as LaTeX.
SYMBOLS = {
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "×": r"$\times$",
    "†": r"$^\dagger$",
    "∞": r"$\infty$",
    "γ": r"$\gamma$",
    "Δ": r"$\Delta$",
    "±": r"$\pm$",
    "−": r"$-$",
    "–": "--",
    "“": "``",
    "”": "''",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}
#: Packages the tables need (the report's preamble loads them).
PACKAGES = ("booktabs", "graphicx")
#: How a cell of ours without a number reads.
NO_VALUE = {
    Status.NOT_RUN: "--",
    Status.NOT_COMPUTED: "n/a",
    Status.UNAVAILABLE: "n/a",
    Status.QUOTED: "",
}
BOX = r"\gianetbox"


def latex_text(text: str) -> str:
    """Plain Unicode text as LaTeX: specials escaped, the model's symbols in math."""
    return "".join(SPECIALS.get(c, SYMBOLS.get(c, c)) for c in text)


def latex_rich(text: Text) -> str:
    """Rich text (:data:`gianet.report.model.Text`) as LaTeX."""
    return "".join(
        rf"\emph{{{latex_text(span.text)}}}" if isinstance(span, Emph) else latex_text(span)
        for span in text
    )


def label_of(table: Table) -> str:
    """The table's ``\\label``: ``tab:table1-first-sid-synth``."""
    key = table.key.replace("_", "-")
    safe = "".join(c if c.isalnum() or c == "-" else "-" for c in table.dataset)
    return f"tab:{key}-{safe}"


def render_table(table: Table) -> str:
    """One table as a LaTeX ``table`` float."""
    caption = latex_rich(table.caption) + (
        " " + latex_text(table.protocol) if table.protocol else ""
    )
    lines = [
        r"\begin{table}[tbp]",
        r"\centering",
        rf"\caption{{{caption}}}",
        rf"\label{{{label_of(table)}}}",
        r"\footnotesize",
        r"\setlength{\tabcolsep}{3pt}",
        *fitted(table.key, _tabular(table)),
    ]
    if table.notes:
        lines.append(r"\par\smallskip{\scriptsize " + latex_text(" ".join(table.notes)) + "}")
    if table.comparisons:
        lines += [
            r"\par\medskip",
            r"{\scriptsize " + latex_text(table.comparisons_caption) + r"\par}",
            r"\smallskip",
            r"{\scriptsize",
            *fitted(f"{table.key}-statistics", _statistics(table.comparisons)),
            "}",
        ]
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


def render_tables(tables: Sequence[Table]) -> str:
    """Every table, one after another (for ``\\input`` into a document)."""
    return "\n".join(render_table(table) for table in tables)


def fitted(key: str, tabular: Sequence[str]) -> list[str]:
    """``tabular`` in a box, scaled to ``\\linewidth`` only when wider, its width logged."""
    return [
        rf"\ifdefined{BOX}\else\newsavebox{BOX}\fi",
        rf"\sbox{BOX}{{%",
        *tabular,
        "}%",
        rf"\typeout{{gianet-fit: {key} \the\wd{BOX}\space in \the\linewidth}}%",
        rf"\ifdim\wd{BOX}>\linewidth\resizebox{{\linewidth}}{{!}}{{\usebox{BOX}}}%",
        rf"\else\usebox{BOX}\fi",
    ]


def _tabular(table: Table) -> list[str]:
    width = 1 + 3 * len(table.columns)
    lines = [
        rf"\begin{{tabular}}{{@{{}}l*{{{len(table.columns)}}}{{rrr}}@{{}}}}",
        r"\toprule",
        " & "
        + " & ".join(
            rf"\multicolumn{{3}}{{c}}{{{latex_text(f'{c.header} {c.arrow}'.strip())}}}"
            for c in table.columns
        )
        + r" \\",
        "".join(rf"\cmidrule(lr){{{2 + 3 * i}-{4 + 3 * i}}}" for i in range(len(table.columns))),
        "Model & "
        + " & ".join(
            f"{latex_text(table.ours_header)} & {latex_text(table.published_header)} & $\\Delta$"
            for _ in table.columns
        )
        + r" \\",
    ]
    for block in table.blocks:
        lines += [
            r"\midrule",
            rf"\multicolumn{{{width}}}{{@{{}}l}}{{\textit{{{block.camera}}}}} \\",
        ]
        for row in block.rows:
            label = latex_text(row.label + ("†" if row.quoted else ""))
            cells = [
                part
                for column, cell in zip(table.columns, row.cells, strict=True)
                for part in _cell(column, cell)
            ]
            lines.append(" & ".join([label, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines


def _cell(column: Column, cell: Cell) -> tuple[str, str, str]:
    """Ours (bold when best; ± standard deviation over seeds), the paper's, Δ."""
    ours = cell.ours
    if ours.status is Status.VALUE:
        text = latex_text(column.format(ours.mean))
        if cell.best_ours:
            text = rf"\textbf{{{text}}}"
        if ours.sd is not None:
            text += rf"{{\tiny$\pm${column.format(ours.sd)}}}"
    else:
        text = NO_VALUE.get(ours.status, "--")
    theirs = latex_text(cell.paper.text) if cell.paper.status is Status.VALUE else "--"
    if cell.best_paper:
        theirs = rf"\textbf{{{theirs}}}"
    difference = cell.difference
    delta = latex_text(column.format(difference, signed=True)) if difference is not None else ""
    return text, theirs, delta


def stacked(top: str, bottom: str) -> str:
    """Two lines in one right-aligned cell (LaTeX)."""
    # Braces keep a bottom line that starts with "[" from reading as \\'s optional space.
    return rf"\begin{{tabular}}{{@{{}}r@{{}}}}{top}\\ {{{bottom}}}\end{{tabular}}"


def _statistics(comparisons: Sequence[Comparison]) -> list[str]:
    """The comparisons as a tabular: per camera, a row per pair, per metric Δ [CI] and wins."""
    metrics = list(dict.fromkeys(c.metric for c in comparisons))
    width = 1 + 2 * len(metrics)
    lines = [
        rf"\begin{{tabular}}{{@{{}}l*{{{len(metrics)}}}{{rr}}@{{}}}}",
        r"\toprule",
        "A vs B & "
        + " & ".join(
            stacked(rf"{METRICS[m].header} $\Delta$", "[CI]") + " & " + stacked("wins", "A/B")
            for m in metrics
        )
        + r" \\",
    ]
    for camera, rows in grouped(comparisons).items():
        heading = latex_text(block_heading(camera, rows))
        lines += [r"\midrule", rf"\multicolumn{{{width}}}{{@{{}}l}}{{\textit{{{heading}}}}} \\"]
        for label, by_metric in rows.items():
            cells = [latex_text(label)]
            for metric in metrics:
                comparison = by_metric.get(metric)
                if comparison is None or comparison.result is None:
                    why = comparison.missing if comparison else ""
                    cells += [rf"\multicolumn{{2}}{{l}}{{{latex_text(short_reason(why))}}}"]
                    continue
                mean, interval, wins = map(latex_text, interval_cells(comparison))
                cells += [stacked(mean, interval), wins]
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines

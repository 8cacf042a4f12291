"""The report's LaTeX tables rendered as HTML, for `snakemake --report` and a browser.

The tables are written once, as LaTeX (:mod:`gianet.report.tables`); this module reads back
exactly the subset that writer produces -- ``table`` environments holding a ``\\caption``,
one booktabs ``tabular`` with ``&`` cells, ``\\multicolumn``, ``\\cmidrule`` and a few math
symbols, and optionally a ``\\par\\smallskip{\\footnotesize ...}`` note beneath it -- and
renders each as an HTML ``<table>`` with its caption. Anything outside
that subset is an error, so the two renderings cannot silently drift apart.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from gianet.report.tables import LATEX_SPECIALS

#: LaTeX text commands and math the table writer uses, as Unicode: its math symbols, then
#: :func:`gianet.report.tables.escape_latex`'s escapes undone, then the en dash.
SYMBOLS = {
    r"$\uparrow$": "↑",
    r"$\downarrow$": "↓",
    r"$\times$": "×",
    r"$^\dagger$": "†",
    r"$\infty$": "∞",
    r"$\gamma$": "γ",
    r"$-\infty$": "−∞",
    **{latex: char for char, latex in LATEX_SPECIALS.items()},
    "--": "–",
}
_EMPH = re.compile(r"\\emph\{([^{}]*)\}")
_MULTICOLUMN = re.compile(r"^\\multicolumn\{(\d+)\}\{[lcr]\}\{(.*)\}$")
_ENVIRONMENT = re.compile(r"\\begin\{table\}.*?\\end\{table\}", re.S)
_UNESCAPED_AMPERSAND = re.compile(r"(?<!\\)&")
_NOTE = re.compile(r"\\par\\smallskip\{\\footnotesize (.*)\}", re.S)


class LatexSubsetError(ValueError):
    """The LaTeX holds something the table writer never produces."""


@dataclass
class Table:
    """One table: caption, and rows of (text, column span) cells; ``rule_before`` marks the
    rows a ``\\midrule`` precedes; ``note`` is the HTML of the note beneath the tabular."""

    caption: str
    rows: list[list[tuple[str, int]]] = field(default_factory=list)
    rule_before: set[int] = field(default_factory=set)
    header_rows: int = 0
    note: str = ""


def latex_text(text: str) -> str:
    """A cell or caption of the writer's LaTeX as plain text (HTML-escaped later)."""
    for latex, plain in SYMBOLS.items():
        text = text.replace(latex, plain)
    text = _EMPH.sub(r"\1", text)
    if "\\" in text or "$" in text:
        raise LatexSubsetError(f"unsupported LaTeX in table text: {text!r}")
    return text


def parse_tables(latex: str) -> list[Table]:
    """Every ``table`` environment of ``latex`` (as :mod:`gianet.report.tables` writes them)."""
    tables = []
    for environment in _ENVIRONMENT.findall(latex):
        caption = re.search(r"\\caption\{(.*)\}\n", environment)
        if caption is None:
            raise LatexSubsetError("a table without \\caption")
        table = Table(caption=_with_emphasis(caption.group(1)))
        after = environment.split(r"\end{tabular}", 1)[1].strip().removesuffix(r"\end{table}")
        if after.strip():
            note = _NOTE.fullmatch(after.strip())
            if note is None:
                raise LatexSubsetError(f"unsupported LaTeX after a tabular: {after.strip()!r}")
            table.note = _with_emphasis(note.group(1))
        body = environment.split(r"\toprule", 1)[1].split(r"\bottomrule", 1)[0]
        for line in body.strip().splitlines():
            line = line.strip()
            if line.startswith(r"\cmidrule"):
                continue
            if line == r"\midrule":
                table.rule_before.add(len(table.rows))
                table.header_rows = table.header_rows or len(table.rows)
                continue
            if not line.endswith(r"\\"):
                raise LatexSubsetError(f"a table line that is no row: {line!r}")
            table.rows.append([_cell(cell) for cell in _UNESCAPED_AMPERSAND.split(line[:-2])])
        tables.append(table)
    if not tables:
        raise LatexSubsetError("no table environment found")
    return tables


def render_html(tables: list[Table], title: str) -> str:
    """A standalone HTML page with every table."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin:1.5em 0;font-size:90%}caption{caption-side:top;text-align:left;"
        "max-width:60em;padding-bottom:.5em}th,td{padding:.2em .6em;text-align:center}"
        "td:first-child,td:nth-child(2){text-align:left}thead tr:first-child{border-top:2px "
        "solid}tbody{border-bottom:2px solid}tr.rule{border-top:1px solid}"
        "td.note{text-align:left;font-size:85%;padding-top:.5em;max-width:60em}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
    ]
    for table in tables:
        parts.append(f"<table><caption>{table.caption}</caption><thead>")
        for index, row in enumerate(table.rows):
            if index == table.header_rows:
                parts.append("</thead><tbody>")
            tag = "th" if index < table.header_rows else "td"
            css = ' class="rule"' if index in table.rule_before and index else ""
            cells = "".join(
                f"<{tag}{f' colspan={span}' if span > 1 else ''}>{html.escape(text)}</{tag}>"
                for text, span in row
            )
            parts.append(f"<tr{css}>{cells}</tr>")
        parts.append("</tbody>")
        if table.note:
            width = sum(span for _, span in table.rows[0]) if table.rows else 1
            parts.append(
                f'<tfoot><tr><td class="note" colspan={width}>{table.note}</td></tr></tfoot>'
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cell(cell: str) -> tuple[str, int]:
    cell = cell.strip()
    match = _MULTICOLUMN.match(cell)
    if match:
        return latex_text(match.group(2)), int(match.group(1))
    return latex_text(cell), 1


def _with_emphasis(caption: str) -> str:
    """A caption as HTML, ``\\emph`` kept as ``<em>``."""
    pieces = _EMPH.split(caption)
    return "".join(
        f"<em>{html.escape(latex_text(piece))}</em>" if i % 2 else html.escape(latex_text(piece))
        for i, piece in enumerate(pieces)
    )

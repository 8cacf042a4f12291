"""The LaTeX tables rendered as HTML: same cells, same spans, nothing left untranslated."""

from __future__ import annotations

import re

import pytest

from gianet.report.latex_html import LatexSubsetError, latex_text, parse_tables, render_html
from gianet.report.tables import cost_table, results_table
from tests.test_report import COSTS, SUMMARIES


def all_tables() -> str:
    return "\n".join([*(results_table(t, SUMMARIES) for t in (1, 2, 3)), cost_table(COSTS)])


def test_every_table_keeps_its_cells_and_column_spans():
    tables = parse_tables(all_tables())
    assert len(tables) == 4
    for table in tables:
        widths = {sum(span for _, span in row) for row in table.rows}
        assert len(widths) == 1, widths  # every row spans the full width
        assert table.header_rows == 2
    first = tables[0]
    assert first.rows[0] == [("", 1), ("", 1), ("Sony", 4), ("Fuji", 4)]
    assert first.rows[1][2] == ("PSNR↑", 1) and first.rows[1][4] == ("PieAPP↓", 1)
    assert "<em>synthetic</em>" in first.caption and " <em>" in first.caption


def test_html_holds_no_latex_and_escapes_text():
    page = render_html(parse_tables(all_tables()), "tables")
    assert page.count("<table>") == 4 and "colspan=4" in page
    assert not re.search(r"\\[a-zA-Z]|\$", page.split("</style>", 1)[1])
    assert latex_text(r"a\_b \& 50\% $\times$ --") == "a_b & 50% × –"


def test_the_protocol_note_under_a_table_is_rendered_beneath_it():
    from tests.test_report import protocol, summary

    latex = results_table(1, [summary("gia_net", protocol=protocol())])
    (table,) = parse_tables(latex)
    assert table.note.startswith("Protocol: Sony 24 test images (all exposures; scenes 10034")
    assert "γ = 0.84 on L1 (Eq. 1)" in table.note and "3 × 3" in table.note
    page = render_html([table], "tables")
    assert '<tfoot><tr><td class="note" colspan=10>Protocol: ' in page
    with pytest.raises(LatexSubsetError, match="after a tabular"):
        parse_tables(latex.replace(r"\par\smallskip", r"\vspace{1em}"))


def test_latex_outside_the_writer_subset_is_refused():
    with pytest.raises(LatexSubsetError, match="unsupported LaTeX"):
        latex_text(r"\textbf{bold}")
    with pytest.raises(LatexSubsetError, match="no table environment"):
        parse_tables("just text")

"""Tables and statistics as data files, from the table model alone.

- :func:`tables_csv`: one row per (table, camera, model, column): ours (mean, standard
  deviation, seeds, status, the files it came from), the paper's, the difference and the
  bold flags; unrounded.
- :func:`comparisons_csv`: one row per (table, camera, comparison, metric).
- :func:`tables_json`: everything, tables and statistics, as one document.

Non-finite numbers are written as the strings ``"inf"``, ``"-inf"`` (JSON has none) and
missing ones as empty cells or ``null``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from gianet.report.model import Comparison, Table, plain

TABLE_FIELDS = (
    "table",
    "camera",
    "model",
    "label",
    "variant",
    "quoted",
    "column",
    "header",
    "ours",
    "ours_sd",
    "seeds",
    "ours_status",
    "paper",
    "paper_status",
    "difference",
    "best_ours",
    "best_paper",
    "sources",
)
COMPARISON_FIELDS = (
    "table",
    "camera",
    "label",
    "a",
    "b",
    "metric",
    "n_images",
    "seeds_a",
    "seeds_b",
    "mean",
    "low",
    "high",
    "confidence",
    "resamples",
    "seed",
    "wins_a",
    "wins_b",
    "ties",
    "excludes_zero",
    "missing",
)


def number(value: float | None) -> float | str | None:
    """A float for JSON and CSV: finite as is, infinities as strings, NaN as ``None``."""
    if value is None or math.isnan(value):
        return None
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def table_records(table: Table) -> list[dict[str, Any]]:
    """The rows of :func:`tables_csv` for one table."""
    return [
        {
            "table": table.key,
            "camera": block.camera,
            "model": row.model,
            "label": row.label,
            "variant": row.variant or "",
            "quoted": row.quoted,
            "column": column.key,
            "header": column.header,
            "ours": number(cell.ours.mean),
            "ours_sd": number(cell.ours.sd),
            "seeds": cell.ours.seeds,
            "ours_status": cell.ours.status.value,
            "paper": cell.paper.text,
            "paper_status": cell.paper.status.value,
            "difference": number(cell.difference),
            "best_ours": cell.best_ours,
            "best_paper": cell.best_paper,
            "sources": ";".join(cell.ours.sources),
        }
        for block, row, column, cell in table.entries()
    ]


def comparison_record(table: Table, comparison: Comparison) -> dict[str, Any]:
    """The row of :func:`comparisons_csv` for one comparison."""
    result = asdict(comparison.result) if comparison.result else {}
    record = {
        "table": table.key,
        "camera": comparison.camera,
        "label": comparison.label,
        "a": comparison.a,
        "b": comparison.b,
        "metric": comparison.metric,
        **{key: number(result.get(key)) for key in ("mean", "low", "high")},
        **{
            key: result.get(key)
            for key in COMPARISON_FIELDS
            if key not in ("mean", "low", "high") and key in result
        },
        "excludes_zero": comparison.result.excludes_zero if comparison.result else None,
        "missing": comparison.missing,
    }
    return {key: record.get(key) for key in COMPARISON_FIELDS}


def _csv(fields: Sequence[str], records: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else _float_text(v) for k, v in record.items()})
    return buffer.getvalue()


def _float_text(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def tables_csv(tables: Sequence[Table]) -> str:
    """Every cell of every table, one CSV row each (:data:`TABLE_FIELDS`)."""
    return _csv(TABLE_FIELDS, [record for table in tables for record in table_records(table)])


def comparisons_csv(tables: Sequence[Table]) -> str:
    """Every comparison of every table, one CSV row each (:data:`COMPARISON_FIELDS`)."""
    return _csv(
        COMPARISON_FIELDS,
        [comparison_record(table, c) for table in tables for c in table.comparisons],
    )


def tables_json(tables: Sequence[Table], dataset: str) -> dict[str, Any]:
    """Every table with its caption, protocol, notes, cells and statistics, for JSON."""
    return {
        "dataset": dataset,
        "tables": [
            {
                "key": table.key,
                "number": table.number,
                "caption": plain(table.caption),
                "protocol": table.protocol,
                "notes": list(table.notes),
                "ours_header": table.ours_header,
                "published_header": table.published_header,
                "columns": [asdict(column) for column in table.columns],
                "cells": table_records(table),
                "comparisons_caption": table.comparisons_caption,
                "comparisons": [comparison_record(table, c) for c in table.comparisons],
            }
            for table in tables
        ],
    }

"""Every file the report writes, by name: what a rule declares as the report's outputs.

:func:`report_outputs` returns them as one flat mapping whose keys are identifiers (so a
Snakemake rule can take them as named outputs, ``output: **report_outputs(...)``) and whose
values are the paths :func:`gianet.report.build.build_report` writes, and nothing else.
Names come from :mod:`gianet.paths`. Imports neither torch nor matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gianet import paths
from gianet.report.paper import RESULT_TABLES

#: The curve tables' keys, in the order ``gianet report --curve-tables`` takes them.
CURVE_SERIES = tuple(paths.CURVE_TABLES)


def table_keys(first_shot_tables: bool, released: bool = False) -> list[str]:
    """The tables, in the report's order: Tables 1 to 3 (each followed by itself under SID's
    ``_00`` protocol with ``first_shot_tables``), Table 4, and with ``released`` the table of
    SID's released weights (:mod:`gianet.report.released`)."""
    keys = []
    for number in RESULT_TABLES:
        keys.append(f"table{number}")
        if first_shot_tables:
            keys.append(f"table{number}_first")
    return [*keys, "table4_cost", *([paths.RELEASED_TABLE] if released else [])]


def report_outputs(
    report_dir: str | Path,
    cameras: Sequence[str],
    *,
    first_shot_tables: bool,
    released: bool = False,
    pdf: bool = False,
    top: str | Path = ".",
) -> dict[str, Path]:
    """The report's output files for one dataset and its cameras.

    Args:
        report_dir: the dataset's report folder (:func:`gianet.paths.report_dir`,
            ``report/sid-synth``).
        cameras: the cameras reported, in order.
        first_shot_tables: whether Tables 1 to 3 are also written under SID's ``_00``
            protocol (``report.first_shot_tables``).
        released: whether SID's released weights were evaluated (``sid.released_models``):
            their table, ``table_released``.
        pdf: include ``report.pdf`` (compiled only where a LaTeX engine is on PATH, so declare
            it only there: :func:`gianet.report.document.latex_engine`).
        top: the folder of the run-wide DVC files (headline metrics, curve and per-image
            tables): the working directory.

    Returns:
        ``tables`` (all tables), one key per table (:func:`table_keys`), ``tables_html``,
        ``tables_csv``, ``tables_json``, ``comparisons``, ``report_tex``, optionally ``pdf``;
        per camera ``figure_<camera>``, ``curves_<camera>``, ``scatter_<camera>``; and
        ``headline``, ``curve_table_loss``, ``curve_table_psnr``, ``per_image``.
    """
    folder, top = Path(report_dir), Path(top)
    outputs = {"tables": folder / paths.TABLES}
    outputs |= {
        key: folder / paths.table_file_name(key) for key in table_keys(first_shot_tables, released)
    }
    outputs |= {
        "tables_html": folder / paths.TABLES_HTML,
        "tables_csv": folder / paths.TABLES_CSV,
        "tables_json": folder / paths.TABLES_JSON,
        "comparisons": folder / paths.COMPARISONS_CSV,
        "report_tex": folder / paths.REPORT_TEX,
    }
    if pdf:
        outputs["pdf"] = folder / paths.REPORT_PDF
    for camera in cameras:
        outputs[f"figure_{camera}"] = folder / paths.figure_name(camera)
        outputs[f"curves_{camera}"] = folder / paths.curves_name(camera)
        outputs[f"scatter_{camera}"] = folder / paths.scatter_name(camera)
    outputs["headline"] = top / paths.HEADLINE_METRICS
    outputs |= {f"curve_table_{s}": top / name for s, name in paths.CURVE_TABLES.items()}
    outputs["per_image"] = top / paths.PER_IMAGE_TABLE
    return outputs


def released_outputs(report_dir: str | Path) -> dict[str, Path]:
    """The table of SID's released weights alone (``gianet report-released``), made without
    any trained run: ``tex``, ``html`` and ``csv`` in the dataset's report folder."""
    folder = Path(report_dir)
    return {kind: folder / name for kind, name in paths.RELEASED_REPORT.items()}

"""``report.tex``: the tables, figure grids, per-image scatters and curves in one LaTeX
document, and its compilation to ``report.pdf`` where a LaTeX engine is on PATH.

The document is a standard ``article`` (10 pt, default margins) needing only packages of TeX
Live's ``latex-base`` and ``latex-recommended`` sets (booktabs, graphicx, caption). It names
every file it includes relative to its own folder. :func:`compile_pdf` runs ``latexmk``
(with ``pdflatex``), else ``pdflatex`` (twice, for the references), else ``tectonic``, in a
temporary folder, and moves only the PDF into place; with no engine it says so in one line
and writes nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gianet import atomic
from gianet.errors import GianetError
from gianet.report.model import Table
from gianet.report.render_latex import latex_rich, latex_text
from gianet.report.results_tables import dataset_words

PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage{booktabs}
\usepackage{graphicx}
\usepackage[font=footnotesize,labelfont=bf]{caption}
% Tall tables and figures may fill most of a page rather than wait for a page of floats.
\renewcommand{\topfraction}{0.95}
\renewcommand{\textfraction}{0.05}
\renewcommand{\floatpagefraction}{0.75}
"""
#: Seconds one engine run may take.
COMPILE_TIMEOUT = 600


class LatexError(GianetError, RuntimeError):
    """The LaTeX engine failed on the report (its log's errors in the message)."""


@dataclass(frozen=True)
class Compiled:
    """A compiled report: the PDF written, the engine that wrote it and its log."""

    pdf: Path
    engine: str
    log: str


def report_source(
    tables: Sequence[Table],
    *,
    dataset: str,
    cameras: Sequence[str],
    outputs: Mapping[str, Path],
    tex: Path,
    configuration: str = "",
) -> str:
    """The LaTeX of ``report.tex``.

    Args:
        tables: the tables in order; each is included from ``outputs[table.key]``.
        dataset: the dataset the numbers were measured on.
        cameras: the cameras, in order, whose ``figure_``, ``scatter_`` and ``curves_``
            outputs are included.
        outputs: the report's files (:func:`gianet.report.outputs.report_outputs`).
        tex: where ``report.tex`` goes (paths are written relative to its folder).
        configuration: a phrase naming the run's configuration.
    """

    def relative(key: str) -> str:
        return Path(os.path.relpath(outputs[key], Path(tex).parent)).as_posix()

    where = latex_rich(dataset_words(dataset))
    intro = (
        "The tables of Meng, Xu and Ho, \\emph{GIA-Net: Global Information Aware Network for "
        f"Low-light Imaging}} (ECCV 2020 workshops), with {where}."
        + (f" Configuration: {latex_text(configuration)}." if configuration else "")
        + " Each table's caption states the protocol its numbers follow; under Tables 1 to 3, "
        "the per-image statistics of the comparisons the paper makes."
    )
    lines = [
        "% gianet's report; every number comes from the files beside it (tables.json).",
        PREAMBLE,
        rf"\title{{GIA-Net reproduction: {latex_text(dataset)}}}",
        r"\author{gianet}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        intro,
        r"\section{Tables}",
    ]
    for table in tables:
        lines.append(rf"\input{{{relative(table.key)}}}")
    for section in FIGURE_SECTIONS:
        lines += [r"\clearpage", rf"\section{{{section.title}}}"]
        for camera in cameras:
            lines += _figure(
                relative(f"{section.key}_{camera}"),
                section.caption.format(camera=camera, dataset=dataset),
                f"fig:{section.key}-{camera}",
                **section.size,
            )
    lines += [r"\end{document}", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class FigureSection:
    """A section of the report with one figure per camera, ``outputs[f"{key}_{camera}"]``;
    ``caption`` is formatted with ``camera`` and ``dataset``; ``size`` goes to
    :func:`_figure`."""

    title: str
    key: str
    caption: str
    size: dict[str, str]


FIGURE_SECTIONS = (
    FigureSection(
        "Test images",
        "figure",
        "{camera} test images, {dataset}: the input brightened by its ratio, the ground "
        "truth and each variant's output, whole and cropped where GIA-Net and SID-Net "
        "differ most; PSNR / SSIM of the whole image on each tile (the variants': the "
        "evaluation's; the input's: on the 8-bit preview shown).",
        {"height": r"0.85\textheight"},
    ),
    FigureSection(
        "Per-image comparison",
        "scatter",
        "{camera}, {dataset}: GIA-Net's PSNR against SID-Net's, one point per test image; "
        "above the diagonal, GIA-Net scores higher.",
        {"width": r"0.6\linewidth"},
    ),
    FigureSection(
        "Training curves",
        "curves",
        "{camera} training curves, {dataset}: training loss and validation PSNR per epoch.",
        {},
    ),
)


def _figure(
    path: str, caption: str, label: str, width: str = r"\linewidth", height: str = ""
) -> list[str]:
    size = f"width={width}" + (f",height={height},keepaspectratio" if height else "")
    return [
        r"\begin{figure}[!htbp]",
        r"\centering",
        rf"\includegraphics[{size}]{{{path}}}",
        rf"\caption{{{latex_text(caption)}}}",
        rf"\label{{{label}}}",
        r"\end{figure}",
    ]


def latex_engine() -> tuple[str, list[str]] | None:
    """The engine :func:`compile_pdf` would use: its name and command (without the file);
    ``None`` when none is on PATH."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return "latexmk", ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error"]
    if shutil.which("pdflatex"):
        return "pdflatex", ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
    if shutil.which("tectonic"):
        return "tectonic", ["tectonic", "--keep-logs"]
    return None


def compile_pdf(tex: Path, pdf: Path) -> Compiled | None:
    """Compile ``tex`` to ``pdf`` with :func:`latex_engine`'s engine.

    The engine runs in ``tex``'s folder (which the document's relative paths need), writing
    its auxiliary files to a temporary folder; only the PDF is moved to ``pdf``.

    Returns:
        What was compiled; ``None``, after one line on stderr, when no engine is on PATH.

    Raises:
        LatexError: the engine failed; the message holds its log's error lines.
    """
    found = latex_engine()
    if found is None:
        print(
            f"gianet report: no LaTeX engine on PATH (latexmk with pdflatex, pdflatex or "
            f"tectonic); {pdf} not written, {tex} is complete (README: the PDF report)",
            file=sys.stderr,
        )
        return None
    name, command = found
    tex = Path(tex)
    with tempfile.TemporaryDirectory(prefix="gianet-latex-") as scratch:
        if name == "latexmk":
            runs = [[*command, f"-outdir={scratch}", tex.name]]
        elif name == "pdflatex":
            runs = [[*command, f"-output-directory={scratch}", tex.name]] * 2
        else:
            runs = [[*command, "--outdir", scratch, tex.name]]
        for run in runs:
            done = subprocess.run(
                run, cwd=tex.parent, capture_output=True, text=True, timeout=COMPILE_TIMEOUT
            )
            log_path = Path(scratch) / f"{tex.stem}.log"
            log = log_path.read_text(errors="replace") if log_path.exists() else done.stdout
            if done.returncode != 0:
                errors = [line for line in log.splitlines() if line.startswith("!")]
                detail = "\n".join(errors[:10]) or "\n".join(log.splitlines()[-20:])
                raise LatexError(f"{name} failed on {tex} (exit {done.returncode}):\n{detail}")
        atomic.write_bytes(pdf, (Path(scratch) / f"{tex.stem}.pdf").read_bytes())
    return Compiled(Path(pdf), name, log)

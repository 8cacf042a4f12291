"""The repository speaks of itself only: no path outside it, and every docs/ citation resolves.

Code, tests, workflow and documentation may reach files outside the repository only through
a documented environment variable (``GIANET_REALRAW``, tests/data/README.md), never through a
path written into them. Citations of the design notes read ``docs/<file>.md, <section>`` and
name a file of docs/ and one of its headings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
#: What is checked: everything a user or a job reads.
CHECKED = (
    "src",
    "tests",
    "workflow",
    "benchmarks",
    "configs",
    "profiles",
    "docs",
    "README.md",
    "params.yaml",
    "Snakefile",
    "Makefile",
    "dvc.yaml",
    "pyproject.toml",
)
#: Spelled in pieces so that this file does not match itself.
FORBIDDEN = ("../" + "shared", "/" + "work/", "DESIGN" + ".md")
CITATION = re.compile(r"docs/(\w+)\.md, ([A-Za-z][\w' -]*[\w'])")


def text_files() -> list[Path]:
    files = []
    for name in CHECKED:
        path = REPO / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        for candidate in candidates:
            if not candidate.is_file() or "__pycache__" in candidate.parts:
                continue
            try:
                candidate.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary test data
            files.append(candidate)
    return files


def test_no_file_names_a_path_outside_the_repository():
    hits = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if any(forbidden in line for forbidden in FORBIDDEN)
    ]
    assert not hits, "paths outside the repository:\n" + "\n".join(hits)


def test_no_module_climbs_above_the_repository_from_its_own_file():
    """``Path(__file__).parents[k]`` with k above the file's depth leaves the repository."""
    climbs = []
    for path in text_files():
        depth = len(path.relative_to(REPO).parts) - 1  # parents[depth] is the root
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for k in re.findall(r"__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]", line):
                if int(k) > depth:
                    climbs.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not climbs, "paths above the repository:\n" + "\n".join(climbs)


def headings(document: Path) -> list[str]:
    """The document's headings, lower-case, without their ``#`` marks."""
    return [
        line.lstrip("#").strip().lower()
        for line in document.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]


def citations() -> list[tuple[str, str, str]]:
    found = []
    for path in text_files():
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(REPO)), match[1], match[2]))
    return found


def test_citations_of_the_design_notes_exist():
    found = citations()
    assert len(found) >= 3  # metrics.py, synth/noise.py and params.yaml cite docs/reference.md
    for source, document, section in found:
        path = REPO / "docs" / f"{document}.md"
        assert path.is_file(), f"{source} cites docs/{document}.md, which does not exist"
        assert any(section.lower() in heading for heading in headings(path)), (
            f"{source} cites section {section!r} of docs/{document}.md, which has no such heading"
        )


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


MARKDOWN = ["README.md", "tests/data/README.md", "benchmarks/README.md"] + [
    str(path.relative_to(REPO)) for path in sorted((REPO / "docs").glob("*.md"))
]


@pytest.mark.parametrize("document", MARKDOWN)
def test_relative_links_point_at_files_and_headings_of_the_repository(document):
    path = REPO / document
    links = re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]+))?\)", path.read_text(encoding="utf-8"))
    for target, anchor in links:
        linked = (path.parent / target) if target else path
        assert linked.exists(), f"{document} links to {target}, which is missing"
        if anchor and linked.suffix == ".md":
            anchors = {slug(heading) for heading in headings(linked)}
            assert anchor in anchors, f"{document} links to {target}#{anchor}: no such heading"

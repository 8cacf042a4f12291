"""The package installs whole: the wheel carries every file the code opens at run time, and an
installed (not editable) copy loads each one through the package's own functions.

The wheel is built offline from a copy of the project (``pip wheel --no-build-isolation``,
with the setuptools of the environment), installed with ``pip install --target`` and
imported in a fresh interpreter whose only entry for gianet is that target. The conda
environment of the rules (workflow/envs/gianet.yaml) pins every dependency and installs the
project.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement  # a dependency of pytest

REPO = Path(__file__).parents[1]
PACKAGE = REPO / "src" / "gianet"
#: What the code opens through importlib.resources (checked to be among the files found).
KNOWN_RESOURCES = {
    "gianet/report/paper_results.csv",
    "gianet/report/table4_cost.csv",
    *(
        f"gianet/data/sid_lists/{camera}_{split}_list.txt"
        for camera in ("Sony", "Fuji")
        for split in ("train", "val", "test")
    ),
}


def package_resources() -> set[str]:
    """Every file of the source package that is not Python: what the code opens at run time."""
    return {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }


def pip(*arguments: str, cwd: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pip", *arguments, "--no-deps", "--no-index", "--quiet"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a clean copy of the project (the checkout stays untouched)."""
    source = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        PACKAGE, source / "src" / "gianet", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-build-isolation", "--wheel-dir", str(out), str(source), cwd=out)
    (built,) = out.glob("gianet-*.whl")
    return built


def test_the_wheel_holds_every_resource_of_the_package(wheel):
    resources = package_resources()
    assert resources >= KNOWN_RESOURCES
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = sorted(resources - names)
        assert not missing, f"{wheel.name} lacks {missing}: add them to package-data"
        for name in resources:
            assert archive.read(name) == (PACKAGE.parent / name).read_bytes()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "gianet = gianet.cli:main" in archive.read(entry_points).decode()


# Runs in the subprocess: load every resource through gianet's own functions.
LOAD_RESOURCES = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import gianet, gianet.settings, gianet.fetch.sid, gianet.report.paper
    from gianet.settings import json_schema
    from gianet.fetch.sid import install_split_lists
    from gianet.report import paper
    from gianet.report.cost_table import cost_table
    from gianet.report.render_latex import render_table

    root = Path(sys.argv[1])
    lists = {}
    for camera in ("Sony", "Fuji"):
        (root / camera / "short").mkdir(parents=True)
        for path in install_split_lists(root, camera):
            lists[path.name] = path.read_text()
    modules = (gianet, gianet.settings, gianet.fetch.sid, gianet.report.paper)
    print(json.dumps({
        "modules": [module.__file__ for module in modules],
        "schema": json_schema(),
        "lists": lists,
        "tables": [
            [paper.published(t, c, m, "psnr") for t, c, m in paper.results() if t == table]
            for table in (1, 2, 3)
        ],
        "costs": render_table(cost_table([], "sid-synth")),
    }))
    """
)


def test_an_installed_copy_loads_every_resource(wheel, tmp_path):
    target = tmp_path / "site"
    pip("install", "--target", str(target), str(wheel), cwd=tmp_path)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PYTHONPATH"] = str(target)
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_RESOURCES, str(tmp_path / "sid")],
        cwd=tmp_path,  # not the checkout, whose src/ must not be found
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout)

    for module in loaded["modules"]:
        assert Path(module).is_relative_to(target), f"{module} is not the installed copy"
    from gianet.settings import json_schema

    assert loaded["schema"] == json.loads(json.dumps(json_schema()))
    lists = PACKAGE / "data" / "sid_lists"
    assert loaded["lists"] == {path.name: path.read_text() for path in lists.glob("*.txt")}
    assert len(loaded["lists"]) == 6
    with (PACKAGE / "report" / "paper_results.csv").open(newline="") as handle:
        paper = list(csv.DictReader(handle))
    for row in (row for row in paper if row["psnr"]):
        assert row["psnr"] in loaded["tables"][int(row["table"]) - 1], row
    with (PACKAGE / "report" / "table4_cost.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            for key in ("params_millions", "flops_billions", "params_ratio", "flops_ratio"):
                assert not row[key] or row[key] in loaded["costs"], (row["model"], key)


def test_the_conda_environment_pins_every_dependency_and_installs_the_project():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = {
        re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]
    }
    environment = yaml.safe_load((REPO / "workflow" / "envs" / "gianet.yaml").read_text())
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    (pip_section,) = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    pinned = dict(line.split("==") for line in pip_section if "==" in line)
    assert "python=3.11" in conda and "pip" in conda
    assert required <= {name.lower() for name in pinned}, required - set(pinned)
    assert all(re.fullmatch(r"\d+(\.\d+)*(\.post\d+)?", v) for v in pinned.values()), pinned
    assert "-e ../.." in pip_section  # the project itself, from the repository root
    # Every pin satisfies the project's own requirements.
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        assert pinned[requirement.name] in requirement.specifier, (requirement, pinned)


def test_rawpy_0_26_0_is_excluded_by_the_requirements():
    """rawpy 0.26.0 renders Fuji X-Trans raws with a red cast (fixed in 0.26.1)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (rawpy,) = [Requirement(s) for s in project["dependencies"] if s.startswith("rawpy")]
    assert "0.26.0" not in rawpy.specifier
    assert all(version in rawpy.specifier for version in ("0.24.0", "0.26.1", "0.28.0"))

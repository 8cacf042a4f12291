"""How a stage is declared: once, as a typed Python function.

A stage is a function whose parameters say what the job reads, what it writes and what it
depends on, by their annotations::

    @stage("pack")
    def pack(lists: Inputs, manifest: Output, settings: PackJob, runtime: Runtime) -> None:
        '''Decode a dataset's raws once into the packed cache.

        Args:
            lists: the camera's three split lists (SID's names).
            manifest: the cache's index to write.
        '''

From this one declaration come the command line (``gianet pack --lists ... --manifest ...
--settings JSON --runtime JSON``, help from the docstring; :mod:`gianet.cli`) and the shell
command of the Snakemake rule that runs it (:func:`gianet.stages.snakemake.shell_command`):
an :data:`Input` or :data:`Inputs` parameter ``x`` is handed ``{input.x}``, an output
``{output.x}``, a :data:`Kept` path ``{params.x}``, the settings ``{params.settings}`` and the
runtime ``{resources.gianet_runtime}``. The rule names its files the same way, which
``tests/test_stages.py`` checks for every rule.

Settings are a :class:`JobSettings` view of the configuration: exactly what the job's results
depend on, built from the validated params.yaml for the job's wildcards. Every stage takes its
settings the same way (:mod:`gianet.cli`): ``--settings JSON`` (as the workflow passes them),
or ``--params params.yaml`` (plus any ``--configfile``) and the job's wildcards, which builds
the same view from the configuration; a view that is its wildcards alone
(:attr:`JobSettings.FROM_WILDCARDS`) is also built from them without a params file. No
setting has a default anywhere else.

An :data:`Argument` is a file the job reads given positionally (``gianet enhance RAW``); a
rule hands it ``{input.x}`` as it does an :data:`Input`'s.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from gianet.settings.sections import Params


class Role(enum.Enum):
    """What a parameter is to the workflow."""

    INPUT = "input"  # a file the job reads, made by another rule or given by the user
    OUTPUT = "output"  # a file the job writes (declared by its rule)
    KEPT = "kept"  # a file or folder the job updates that is no rule output, so Snakemake
    # never deletes it before a run (a checksum record; the folder of sample images)
    OPTION = "option"  # a command-line option of a stage run by hand (enhance's --ratio)
    ARGUMENT = "argument"  # a file the job reads, as a positional command-line argument
    # (enhance's raw file; import-sid's checkpoint, which its rule hands as {input.x})


Input = Annotated[Path, Role.INPUT]
Inputs = Annotated[list[Path], Role.INPUT]
OptionalInput = Annotated[Path | None, Role.INPUT]
OptionalInputs = Annotated[list[Path] | None, Role.INPUT]  # a rule may hand none
Output = Annotated[Path, Role.OUTPUT]
Outputs = Annotated[list[Path], Role.OUTPUT]
Kept = Annotated[Path, Role.KEPT]
Option = Role.OPTION
Argument = Role.ARGUMENT


class JobSettings(BaseModel):
    """A stage's settings: a view of the configuration holding exactly what the job's results
    depend on. The workflow passes it as JSON (``--settings``), so Snakemake reruns the job
    when, and only when, one of these values changes.

    Subclasses list the wildcards that pick the view (``WILDCARDS``: camera, variant, seed)
    and build it from a validated configuration in :meth:`from_params`. A view holding its
    wildcards and nothing else sets ``FROM_WILDCARDS``: a stage run by hand then builds it
    from them alone (``gianet import-sid ... --camera Sony``), with no params file.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    WILDCARDS: ClassVar[tuple[str, ...]] = ()
    FROM_WILDCARDS: ClassVar[bool] = False

    @classmethod
    def from_params(cls, params: Params, **wildcards: Any) -> JobSettings:
        raise NotImplementedError


@dataclass(frozen=True)
class Parameter:
    """One parameter of a stage function."""

    name: str
    role: Role | None  # None: the settings or the runtime, recognised by type
    annotation: Any
    help: str
    required: bool
    default: Any = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Stage:
    """A declared stage: ``gianet <name>`` runs ``function``."""

    name: str
    function: Callable[..., Any]
    help: str
    parameters: tuple[Parameter, ...]
    settings: type[JobSettings] | None
    runtime: bool
    #: Seconds a run waits for another run making the same outputs before it refuses
    #: (:func:`gianet.jobs.locks.output_locks`).
    wait_for_outputs: float = 0

    def parameters_with(self, *roles: Role) -> list[Parameter]:
        return [p for p in self.parameters if p.role in roles]

    @property
    def outputs(self) -> list[Parameter]:
        return self.parameters_with(Role.OUTPUT)


#: Every declared stage by name, in declaration order (``gianet --help`` lists them so).
STAGES: dict[str, Stage] = {}


def stage(
    name: str, *, wait_for_outputs: float = 0
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare ``function`` as the stage ``name`` (see the module docstring); a run finding
    another one making its outputs waits ``wait_for_outputs`` seconds before it refuses."""

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in STAGES:
            raise ValueError(f"stage {name!r} declared twice")
        STAGES[name] = dataclasses.replace(
            _describe(name, function), wait_for_outputs=wait_for_outputs
        )
        return function

    return declare


def _describe(name: str, function: Callable[..., Any]) -> Stage:
    from gianet.settings.sections import Runtime

    hints = typing.get_type_hints(function, include_extras=True)
    docs = _argument_docs(function.__doc__ or "")
    parameters, settings, runtime = [], None, False
    for parameter in inspect.signature(function).parameters.values():
        annotation = hints[parameter.name]
        bare = _bare(annotation)
        if isinstance(bare, type) and issubclass(bare, JobSettings):
            settings = bare
            continue
        if bare is Runtime:
            runtime = True
            continue
        roles = [m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, Role)]
        if len(roles) != 1:
            raise TypeError(f"stage {name}: parameter {parameter.name} has no role annotation")
        has_default = parameter.default is not inspect.Parameter.empty
        if parameter.name not in docs:
            raise TypeError(f"stage {name}: parameter {parameter.name} is not documented")
        parameters.append(
            Parameter(
                parameter.name,
                roles[0],
                annotation,
                _plain(docs[parameter.name]),
                required=not has_default,
                default=parameter.default if has_default else None,
            )
        )
    first_paragraph = inspect.cleandoc(function.__doc__ or name).split("\n\n")[0]
    summary = _plain(" ".join(first_paragraph.split())).rstrip(".")
    return Stage(name, function, summary, tuple(parameters), settings, runtime)


def _plain(text: str) -> str:
    """Docstring markup made readable in ``--help``: ``x`` and :role:`x` become x."""
    return re.sub(r":\w+:`([^`]*)`", r"\1", text).replace("``", "")


def _bare(annotation: Any) -> Any:
    """The type inside ``Annotated[...]``."""
    return typing.get_args(annotation)[0] if hasattr(annotation, "__metadata__") else annotation


def _argument_docs(docstring: str) -> dict[str, str]:
    """Google-style ``Args:`` entries of a docstring: name -> its text on one line."""
    lines = inspect.cleandoc(docstring).splitlines()
    try:
        start = lines.index("Args:") + 1
    except ValueError:
        return {}
    entries: dict[str, str] = {}
    current = None
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break  # the next section
        match = re.match(r"^    (\w+)(?: \(.*?\))?: (.*)$", line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2).strip()
        elif current and line.strip():
            entries[current] += " " + line.strip()
    return entries

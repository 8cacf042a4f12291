"""The ``gianet`` command line, generated from the stage declarations.

Each stage is declared once, as a typed function (:mod:`gianet.stages`); this module turns
every declaration into a subcommand: files become ``--name PATH`` options (``nargs="+"`` for
lists), the settings become ``--settings JSON`` or ``--params FILE`` (see below), the runtime
``--runtime JSON``, and the help comes from the function's docstring. The Snakemake rules'
shell commands are generated from the same declarations, so the rule, the command and the
function cannot drift apart.

Settings, the same way for every stage:

- ``--settings JSON``: the stage's settings view, as the workflow passes it (exactly the
  values its results depend on; ``snakemake -p`` prints it);
- ``--params params.yaml [--configfile paper.yaml ...]`` and the job's ``--camera``,
  ``--variant``, ``--seed`` where the stage has them: the same view built from the
  configuration, so a stage run by hand follows the workflow's protocol. With neither, the
  stage refuses to run, naming what is missing; no setting has a command-line default. A
  view that is its wildcards alone (``import-sid``'s camera) needs only them.

:func:`main` is the one error boundary: every error a user can fix (gianet's own, the
operating system's such as a full disk or a permission, the device's; see
:func:`gianet.errors.explain`) is printed as one line naming the file or key and the fix, and
exits with status 2; ``gianet --debug STAGE ...`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from gianet.errors import GianetError, explain
from gianet.stages.declaration import JobSettings, Parameter, Role, Stage

#: What each wildcard of a settings view is on the command line.
WILDCARD_OPTIONS: dict[str, dict[str, Any]] = {
    "camera": {"help": "the camera (with --params)"},
    "variant": {"help": "the variant, as `gianet variants` lists them (with --params)"},
    "seed": {"type": int, "help": "the training seed, one of train.seeds (with --params)"},
}


class UsageError(GianetError, ValueError):
    """Arguments that argparse accepts but that do not fit together."""


def parser() -> argparse.ArgumentParser:
    """The whole command line: one subcommand per declared stage."""
    from gianet.stages import STAGES

    top = argparse.ArgumentParser(prog="gianet", description=__doc__.splitlines()[0])
    top.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    commands = top.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES.values():
        sub = commands.add_parser(stage.name, help=stage.help, description=stage.help)
        for parameter in stage.parameters:
            _add(sub, parameter)
        if stage.settings is not None or stage.runtime:
            _add_settings(sub, stage)
        sub.set_defaults(declared=stage)
    return top


def _optional_path(text: str) -> Path | None:
    """An optional file argument: given empty (a rule's absent input), it is absent."""
    return Path(text) if text else None


def _add(sub: argparse.ArgumentParser, parameter: Parameter) -> None:
    bare = _unwrap(parameter.annotation)
    options: dict[str, Any] = {"help": parameter.help}
    if typing.get_origin(bare) is list:
        options["nargs"] = "+"
        bare = typing.get_args(bare)[0]
    if parameter.role is Role.INPUT and not parameter.required:
        # An optional input (a list of them may be empty): a rule hands it even when absent.
        options["nargs"] = "*" if options.get("nargs") else "?"
        sub.add_argument(
            parameter.flag, type=_optional_path, default=None, metavar="PATH", **options
        )
        return
    if bare is bool:
        sub.add_argument(parameter.flag, action="store_true", **options)
        return
    if typing.get_origin(bare) is Literal:
        options["choices"] = typing.get_args(bare)
        bare = type(typing.get_args(bare)[0])
    options["type"] = bare
    if parameter.role is Role.ARGUMENT:
        sub.add_argument(parameter.name, **options)
        return
    options["required"] = parameter.required
    if not parameter.required:
        options["default"] = parameter.default
    sub.add_argument(parameter.flag, metavar=parameter.name.upper(), **options)


def _unwrap(annotation: Any) -> Any:
    """The type of a parameter without ``Annotated`` and without ``| None``."""
    if hasattr(annotation, "__metadata__"):
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _add_settings(sub: argparse.ArgumentParser, stage: Stage) -> None:
    view = stage.settings
    group = sub.add_argument_group(
        "settings",
        "give --settings and --runtime (as the workflow does), or --params to build them from "
        "a params file"
        + (" for the job's " + ", ".join(view.WILDCARDS) if view and view.WILDCARDS else "")
        + (
            ", or the " + ", ".join(view.WILDCARDS) + " alone"
            if view and view.FROM_WILDCARDS
            else ""
        ),
    )
    sources = group.add_mutually_exclusive_group()
    if view is not None:
        sources.add_argument(
            "--settings", metavar="JSON", help=f"the stage's settings ({view.__name__}) as JSON"
        )
    sources.add_argument(
        "--params", metavar="FILE", help="a params file (params.yaml) to build them from"
    )
    group.add_argument(
        "--configfile",
        nargs="+",
        default=[],
        metavar="FILE",
        help="files merged over --params, as snakemake --configfile",
    )
    for wildcard in view.WILDCARDS if view is not None else ():
        options = dict(WILDCARD_OPTIONS[wildcard])
        if view.FROM_WILDCARDS:
            options["help"] = options["help"].replace(
                "(with --params)", "(alone, or with --params)"
            )
        group.add_argument(f"--{wildcard}", **options)
    if stage.runtime:
        group.add_argument(
            "--runtime",
            metavar="JSON",
            help="params.yaml's runtime section as JSON (how the job runs, never what it computes)",
        )


def _arguments(stage: Stage, args: argparse.Namespace) -> dict[str, Any]:
    """The stage function's keyword arguments from the parsed command line."""
    from gianet.settings import load_params

    values = {p.name: _given(p, getattr(args, p.name)) for p in stage.parameters}
    params = None
    if (stage.settings or stage.runtime) and args.params is not None:
        params = load_params(args.params, args.configfile)
    if stage.settings is not None:
        values["settings"] = _settings(stage.settings, args, params)
    if stage.runtime:
        values["runtime"] = _runtime(args, params)
    return values


def _given(parameter: Parameter, value: Any) -> Any:
    """A parameter's value as the stage function takes it: an optional list of inputs
    without the empty words a rule hands for absent ones."""
    if parameter.role is Role.INPUT and not parameter.required and isinstance(value, list):
        return [path for path in value if path is not None]
    return value


def _settings(view: type[JobSettings], args: argparse.Namespace, params: Any) -> JobSettings:
    from pydantic import ValidationError

    from gianet.settings.load import ConfigError, describe

    if args.settings is not None:
        try:
            return view.model_validate_json(args.settings)
        except ValidationError as exc:
            raise ConfigError("\n".join(describe(exc, "--settings"))) from None
    wildcards = {w: getattr(args, w) for w in view.WILDCARDS}
    missing = [f"--{w}" for w, value in wildcards.items() if value is None]
    if params is None and not (view.FROM_WILDCARDS and not missing):
        raise UsageError(
            "give the stage's settings: --settings JSON (as the workflow passes them; "
            "`snakemake -p` prints each job's) or --params params.yaml"
            + "".join(f" --{w} ..." for w in view.WILDCARDS)
            + (
                " (or " + " ".join(f"--{w} ..." for w in view.WILDCARDS) + " alone)"
                if view.FROM_WILDCARDS
                else ""
            )
        )
    if missing:
        raise UsageError(f"with --params, give {', '.join(missing)} to pick the job's settings")
    if params is None:  # a view that is its wildcards alone
        try:
            return view.model_validate(wildcards)
        except ValidationError as exc:
            raise ConfigError("\n".join(describe(exc, "the command line", "--"))) from None
    return view.from_params(params, **wildcards)


def _runtime(args: argparse.Namespace, params: Any) -> Any:
    from pydantic import ValidationError

    from gianet.settings.load import ConfigError, describe
    from gianet.settings.sections import Runtime

    if args.runtime is not None:
        try:
            return Runtime.model_validate_json(args.runtime)
        except ValidationError as exc:
            raise ConfigError("\n".join(describe(exc, "--runtime", "runtime."))) from None
    if params is None:
        raise UsageError("give --runtime JSON (params.yaml's runtime section) or --params FILE")
    return params.runtime


def _say(message: str) -> None:
    """One message on stderr, even when the reader of our output has gone."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> None:
    """Check the stage's output paths, lock them (one run per output at a time:
    :mod:`gianet.jobs.locks`), then run it."""
    from gianet.atomic import check_output_path
    from gianet.jobs.locks import output_locks

    stage: Stage = args.declared
    arguments = _arguments(stage, args)
    outputs = []
    for parameter in stage.outputs:
        value = arguments[parameter.name]
        outputs += [Path(path) for path in (value if isinstance(value, list) else [value]) if path]
    for path in outputs:
        check_output_path(path)
    command = " ".join(["gianet", *args.argv])
    with output_locks(outputs, command=command, wait=stage.wait_for_outputs):
        stage.function(**arguments)


def main(argv: list[str] | None = None) -> int:
    """Run one stage; returns the exit status: 0; 2 for an error a user can fix; 75 when a
    stop signal interrupted it (a rerun resumes it; in a SLURM job it is requeued); 130 on
    Ctrl-C. Other exceptions are bugs and keep their traceback."""
    from gianet.jobs.interrupt import EXIT_INTERRUPTED, JobInterrupted, requeue_current_job

    args = parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.debug:
        _run(args)
        return 0
    try:
        _run(args)
    except JobInterrupted as exc:
        _say(f"gianet {args.stage}: interrupted: {exc}")
        _say(f"gianet {args.stage}: {requeue_current_job()}")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _say(f"gianet {args.stage}: interrupted; finished files are kept")
        return 130
    except Exception as exc:
        message = explain(exc, args.stage)
        if message is None:
            raise
        _say(f"gianet {args.stage}: error: {message}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

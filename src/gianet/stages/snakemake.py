"""What the Snakemake rules take from the stage declarations: their shell commands, their
settings and their runtime.

A rule names its files as its stage's parameters (``input: manifest=...``, ``output:
model=...``) and calls :func:`shell_command` for its ``shell:``; the command hands each
parameter ``{input.<name>}``, ``{output.<name>}`` or ``{params.<name>}`` by its role (a
positional :data:`~gianet.stages.declaration.Argument` ``{input.<name>}`` first), the
settings as ``{params.settings}`` and the runtime as ``{resources.gianet_runtime}``. A rule's
``params: settings=`` is :func:`settings_of` its stage's view, so Snakemake records exactly what
the job's results depend on and reruns it when, and only when, that changes; the runtime is a
resource (:func:`runtime_of`), which Snakemake never treats as a reason to rerun.

Nothing here changes a file: reading the Snakefile (``snakemake -n``, ``--lint``) is free of
side effects.
"""

from __future__ import annotations

from collections.abc import Callable

from gianet.settings.sections import Params
from gianet.stages.declaration import JobSettings, Role


def shell_command(name: str, *, log: str = "write", stop_safe: bool = False) -> str:
    """The shell command of the rule that runs stage ``name``.

    Args:
        name: a declared stage.
        log: ``"write"`` (the log holds this run) or ``"append"`` (every run of the job is
            kept, for jobs that resume).
        stop_safe: the shell ignores SIGTERM and SIGUSR1, so that it and the ``tee`` writing
            the log outlive the stage when a cluster asks it to stop
            (:mod:`gianet.jobs.interrupt`).
    """
    from gianet.stages import STAGES

    declared = STAGES[name]
    sources = {Role.INPUT: "input", Role.OUTPUT: "output", Role.KEPT: "params"}
    parts = ["gianet", name]
    for parameter in declared.parameters_with(Role.ARGUMENT):  # files read, positionally
        parts.append(f"{{input.{parameter.name}:q}}")
    for parameter in declared.parameters:
        if parameter.role in sources:
            parts.append(f"{parameter.flag} {{{sources[parameter.role]}.{parameter.name}:q}}")
    if declared.settings is not None:
        parts.append("--settings {params.settings:q}")
    if declared.runtime:
        parts.append("--runtime {resources.gianet_runtime:q}")
    tee = "tee -a" if log == "append" else "tee"
    command = " ".join(parts) + f" 2>&1 | {tee} {{log:q}}"
    return ("trap '' TERM USR1; " if stop_safe else "") + command


def settings_of(view: type[JobSettings], params: Params) -> Callable[..., str]:
    """A rule's ``params: settings=``: the job's settings view as JSON, built from ``params``
    for the job's wildcards."""

    def settings(wildcards) -> str:
        picked = {name: getattr(wildcards, name) for name in view.WILDCARDS}
        return view.from_params(params, **picked).model_dump_json()

    return settings


def runtime_of(params: Params) -> Callable[..., str]:
    """A rule's ``resources: gianet_runtime=``: the ``runtime`` section as JSON, with the
    threads Snakemake gives the job (it may give fewer than asked)."""

    def runtime(wildcards, threads: int) -> str:
        return params.runtime.model_copy(update={"threads": threads}).model_dump_json()

    return runtime

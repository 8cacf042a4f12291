"""The stand-in's queries: ``sacct``, ``squeue``, ``sinfo`` and ``sacctmgr``, with the options
the plugin and the README use (the package docstring lists them)."""

from __future__ import annotations

import os
import re

from tests.slurm_standin import jobs

SACCT_WITH_VALUE = {
    "-o",
    "--format",
    "--name",
    "--jobname",
    "-j",
    "--jobs",
    "-S",
    "--starttime",
    "-E",
    "--endtime",
    "-M",
    "--clusters",
    "-u",
    "--user",
}


def parse(argv: list[str], with_value: set[str]) -> tuple[dict[str, str], set[str]]:
    """Options with values and bare flags; combined short flags (``-nu user``) split."""
    values, flags, index = {}, set(), 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            values[name] = value
        elif arg in with_value:
            values[arg] = argv[index] if index < len(argv) else ""
            index += 1
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            for letter in arg[1:-1]:
                flags.add("-" + letter)
            last = "-" + arg[-1]
            if last in with_value:
                values[last] = argv[index] if index < len(argv) else ""
                index += 1
            else:
                flags.add(last)
        else:
            flags.add(arg)
    return values, flags


def first(values: dict[str, str], *names: str) -> str | None:
    return next((values[name] for name in names if name in values), None)


def sacct_field(record: dict, field: str) -> str:
    name = field.split("%")[0].lower()
    table = {
        "jobidraw": record["id"],
        "jobid": record["id"],
        "state": jobs.sacct_state(record),
        "jobname": record["name"],
        "comment": record["comment"],
        "reason": "None",
        "nodelist": "standin-node",
        "account": "standin_account",
        "partition": record["partition"],
        "exitcode": f"{record.get('exit_code') or 0}:0",
    }
    return table.get(name, "")


def sacct(argv: list[str]) -> int:
    values, flags = parse(argv, SACCT_WITH_VALUE)
    fields = (first(values, "--format", "-o") or "JobID,JobName,State").split(",")
    selected = first(values, "-j", "--jobs")
    if selected and "." in selected:
        return 0  # job steps: no reason to report
    name = first(values, "--name", "--jobname")
    if [field.split("%")[0].lower() for field in fields] == ["account"]:
        print("standin_account")  # the user's default account (the plugin guesses it so)
        return 0
    lines = []
    for job_id in jobs.all_ids():
        record = jobs.read(job_id)
        if selected and job_id not in selected.split(","):
            continue
        if name and record["name"] != name:
            continue
        lines.append([sacct_field(record, field) for field in fields])
    if "-n" not in flags and "--noheader" not in flags:
        lines.insert(0, [field.split("%")[0] for field in fields])
    parsable = {"--parsable2", "-P", "--parsable", "-p"} & flags
    for line in lines:
        print("|".join(line) if parsable else " ".join(line))
    return 0


SQUEUE_WITH_VALUE = {
    "-u",
    "--user",
    "-j",
    "--jobs",
    "-n",
    "--name",
    "-t",
    "--states",
    "-o",
    "--format",
}
COMPACT = {
    "PENDING": "PD",
    "RUNNING": "R",
    "COMPLETING": "CG",
    "COMPLETED": "CD",
    "FAILED": "F",
    "CANCELLED": "CA",
    "TIMEOUT": "TO",
}
SHOWN_BY_DEFAULT = {"PENDING", "RUNNING", "COMPLETING"}


def squeue_field(record: dict, code: str) -> str:
    state = jobs.squeue_state(record)
    table = {
        "i": record["id"],
        "j": record["name"],
        "T": state,
        "t": COMPACT.get(state, state),
        "k": record["comment"] or "(null)",
        "P": record["partition"],
        "C": record["cpus"],
        "u": os.environ.get("USER", "user"),
        "D": "1",
        "M": "0:00",
        "R": "standin-node" if state in ("RUNNING", "COMPLETING") else "(None)",
        "r": "None",
    }
    return table.get(code, "")


def squeue(argv: list[str]) -> int:
    values, flags = parse(argv, SQUEUE_WITH_VALUE)
    template = first(values, "-o", "--format") or "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
    states = (first(values, "-t", "--states") or "").upper()
    selected = first(values, "-j", "--jobs")
    name = first(values, "-n", "--name")
    pattern = re.compile(r"%[.-]?\d*([a-zA-Z])")
    lines = []
    for job_id in jobs.all_ids():
        record = jobs.read(job_id)
        state = jobs.squeue_state(record)
        if selected and job_id not in selected.split(","):
            continue
        if name and record["name"] != name:
            continue
        if states != "ALL" and state not in (states.split(",") if states else SHOWN_BY_DEFAULT):
            continue
        lines.append(pattern.sub(lambda m, r=record: squeue_field(r, m.group(1)), template))
    if "-h" not in flags and "--noheader" not in flags:
        heads = {
            "i": "JOBID",
            "j": "NAME",
            "T": "STATE",
            "t": "ST",
            "k": "COMMENT",
            "P": "PARTITION",
            "C": "CPUS",
            "u": "USER",
            "D": "NODES",
            "M": "TIME",
            "R": "NODELIST(REASON)",
            "r": "REASON",
        }
        lines.insert(0, pattern.sub(lambda m: heads.get(m.group(1), ""), template))
    print("\n".join(lines))
    return 0


def sinfo(argv: list[str]) -> int:
    print("PARTITION\ncpu*\ngpu")
    return 0


def sacctmgr(argv: list[str]) -> int:
    print("standin_account")
    return 0

"""The stand-in's commands: ``sbatch``, ``srun``, ``scancel``, ``scontrol``, ``sacct``,
``squeue``, ``sinfo`` and ``sacctmgr``, with the options snakemake-executor-plugin-slurm 2.8.0
and gianet call (the package docstring lists them with the documentation they follow)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.slurm_standin import jobs
from tests.slurm_standin.jobs import FINISHED, PENDING, RUNNING
from tests.slurm_standin.runner import parse_signal, signal_number

ENTRY = Path(__file__).with_name("cli.py")


def option(argv: list[str], *names: str) -> str | None:
    """The value of ``--name=value``, ``--name value`` or ``-n value`` in a command line."""
    for index, arg in enumerate(argv):
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
    return None


def start_runner(job_id: str) -> None:
    subprocess.Popen(
        [sys.executable, str(ENTRY), "_run", job_id],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def next_job_id() -> str:
    folder = jobs.state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    counter = folder / "counter"
    with open(folder / "counter.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        number = int(counter.read_text()) + 1 if counter.exists() else 1000
        counter.write_text(str(number))
    return str(number)


def sbatch(argv: list[str]) -> int:
    wrap = option(argv, "--wrap")
    if wrap is None:
        print("sbatch: error: the stand-in runs --wrap scripts only", file=sys.stderr)
        return 1
    job_id = next_job_id()
    folder = jobs.job_dir(job_id)
    folder.mkdir(parents=True)
    output = option(argv, "--output", "-o") or f"slurm-{job_id}.out"
    record = {
        "id": job_id,
        "argv": argv,
        "wrap": wrap,
        "name": option(argv, "--job-name", "-J") or "wrap",
        "comment": option(argv, "--comment") or "",
        "partition": option(argv, "--partition", "-p") or "cpu",
        "cpus": option(argv, "--cpus-per-task", "-c") or "1",
        "gpus": option(argv, "--gpus", "-G"),
        "output": output.replace("%j", job_id),
        "append": option(argv, "--open-mode") == "append",
        "workdir": option(argv, "--chdir", "-D") or os.getcwd(),
        "submit_dir": os.getcwd(),
        "signal": parse_signal(option(argv, "--signal")),
        # JobRequeue=1 (slurm.conf's default) unless --no-requeue.
        "requeueable": "--no-requeue" not in argv,
        "state": PENDING,
        "restarts": 0,
        "runs": 0,
        "submit_time": time.time(),
        "eligible_at": time.time() + 0.2,
    }
    jobs.write_json(folder / "record.json", record)
    jobs.event(job_id, "submit")
    start_runner(job_id)
    print(job_id if "--parsable" in argv else f"Submitted batch job {job_id}")
    return 0


def srun(argv: list[str]) -> int:
    """Run the step's command in a process group of its own and forward signals to it."""
    command = list(argv)
    takes_value = {"-n", "-N", "-c", "-G", "-J", "-p", "-t", "--jobid"}
    while command and command[0].startswith("-"):
        if command.pop(0) in takes_value and command:
            command.pop(0)
    if not command:
        print("srun: fatal: No command given to execute.", file=sys.stderr)
        return 1
    job_id = os.environ.get("SLURM_JOB_ID")
    step = subprocess.Popen(command, start_new_session=True)
    if job_id and jobs.exists(job_id):
        steps = jobs.job_dir(job_id) / "steps"
        steps.mkdir(parents=True, exist_ok=True)
        number = len(list(steps.glob("*.json")))
        jobs.write_json(steps / f"{number}.json", {"pgid": step.pid, "argv": argv})

    def forward(sig: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(step.pid, sig)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
        signal.signal(sig, forward)
    return step.wait()


def scancel(argv: list[str]) -> int:
    sig_name = option(argv, "--signal", "-s")
    batch_only = bool({"-b", "--batch"} & set(argv))
    full = bool({"-f", "--full"} & set(argv))
    skip = {"-s", "--signal"}
    ids, index = [], 0
    while index < len(argv):
        arg = argv[index]
        if arg in skip:
            index += 2
            continue
        if not arg.startswith("-"):
            ids.append(arg.split(".")[0])
        index += 1
    status = 0
    for job_id in ids:
        if not jobs.exists(job_id):
            if sig_name:
                print(
                    f"scancel: error: Kill job error on job id {job_id}: Invalid job id specified",
                    file=sys.stderr,
                )
                status = 1
            continue  # terminating a job that is gone is no error (scancel.c)
        with jobs.locked(job_id) as record:
            if sig_name is None:
                jobs.cancel(job_id, record)
            elif record["state"] == RUNNING and not record.get("completing"):
                sig = signal_number(sig_name)
                if batch_only:
                    jobs.signal_batch_shell(job_id, record, sig)
                else:
                    jobs.send(job_id, record, sig, batch=full, steps=True)
            else:
                print(
                    f"scancel: error: Kill job error on job id {job_id}: Job/step already "
                    "completing or completed",
                    file=sys.stderr,
                )
                status = 1
    return status


def show_job(job_id: str) -> str:
    record = jobs.read(job_id)
    return "\n   ".join(
        [
            f"JobId={job_id} JobName={record['name']}",
            f"JobState={jobs.squeue_state(record)} Reason=None Dependency=(null)",
            f"Requeue={int(record.get('requeueable', True))} Restarts={record.get('restarts', 0)} "
            "BatchFlag=1 Reboot=0 ExitCode=0:0",
            f"Partition={record['partition']} NumCPUs={record['cpus']}",
            f"Comment={record['comment']}",
            f"StdOut={record['output']}",
        ]
    )


def scontrol(argv: list[str]) -> int:
    if argv[:2] == ["show", "config"]:
        kill_wait = int(jobs.setting("STANDIN_KILL_WAIT", 30))
        print(f"KillWait                = {kill_wait} sec\nMinJobAge               = 300 sec")
        return 0
    if argv[:2] == ["show", "job"] and len(argv) > 2:
        if not jobs.exists(argv[2]):
            print("slurm_load_jobs error: Invalid job id specified", file=sys.stderr)
            return 1
        print(show_job(argv[2]))
        return 0
    if argv and argv[0].lower() == "requeue" and len(argv) > 1:
        incomplete = len(argv) > 2 and "incomplete".startswith(argv[1].lower())
        status = 0
        for job_id in argv[-1].split(","):
            if not jobs.exists(job_id):
                print(f"Invalid job id specified for job {job_id}", file=sys.stderr)
                status = 1
                continue
            with jobs.locked(job_id) as record:
                refusal = jobs.requeue(job_id, record, incomplete)
                spawn = record.pop("needs_runner", False)
            if refusal:
                print(f"{refusal} for job {job_id}", file=sys.stderr)
                status = 1
            elif spawn:
                start_runner(job_id)
        return status
    print(f"scontrol: the stand-in does not know {shlex.join(argv)}", file=sys.stderr)
    return 1


# --- queries ---------------------------------------------------------------------------------

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


COMMANDS = {
    "sbatch": sbatch,
    "srun": srun,
    "scancel": scancel,
    "scontrol": scontrol,
    "sacct": sacct,
    "squeue": squeue,
    "sinfo": sinfo,
    "sacctmgr": sacctmgr,
}


def finished(job_id: str) -> bool:
    record = jobs.read(job_id)
    return record.get("state") in FINISHED and not record.get("completing")

"""The stand-in's commands: ``sbatch``, ``srun``, ``scancel``, ``scontrol``, ``sacct``,
``squeue``, ``sinfo`` and ``sacctmgr``, with the options snakemake-executor-plugin-slurm 2.8.0
and gianet call (the package docstring lists them with the documentation they follow)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.slurm_standin import jobs
from tests.slurm_standin.jobs import FINISHED, PENDING, RUNNING
from tests.slurm_standin.queries import sacct, sacctmgr, sinfo, squeue
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

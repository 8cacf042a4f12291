"""A stand-in for SLURM's commands, so the real snakemake-executor-plugin-slurm can be driven
on one machine: ``sbatch``, ``sacct``, ``scontrol``, ``sinfo``, ``sacctmgr``, ``squeue`` and
``srun``. Tests put small shims on PATH that call ``python slurm_standin.py <command> ...``.

Jobs run locally, in the background, as SLURM would run them: ``sbatch --wrap`` starts a
runner that executes the wrapped command in its own process group (the batch step) with
``SLURM_JOB_ID`` set, ``srun`` runs its command in a process group of its own (a job step),
and ``sacct`` reports the states the runner records. What the tests check:

- every ``sbatch`` call's arguments are kept (``<state>/jobs/<id>/argv.json``);
- a stand-in time limit: when a job asked for ``--signal=SIG@secs`` and the file named by
  ``STANDIN_SIGNAL_WHEN`` (relative to the job's working directory) appears during its first
  run, the runner sends SIG to the job's steps, as SLURM does ``secs`` before a limit; if the
  job is still running ``STANDIN_LIMIT_GRACE`` seconds later, the limit strikes: SIGTERM to
  everything, SIGKILL after ``STANDIN_KILL_WAIT`` seconds, state TIMEOUT;
- ``scontrol requeue ID`` (needs ``sbatch --requeue``): the job turns REQUEUED at once, its
  processes are ended, and it runs again from the start under the same id.

State lives in ``$STANDIN_SLURM_DIR``.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ.get("STANDIN_SLURM_DIR", "/tmp/standin-slurm"))
POLL = 0.2


def job_dir(job_id: str) -> Path:
    return STATE / "jobs" / job_id


def write_json(path: Path, value: object) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


def read_json(path: Path, default: object = None) -> object:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def set_state(job_id: str, state: str) -> None:
    write_json(job_dir(job_id) / "state.json", {"state": state, "time": time.time()})


def state_of(job_id: str) -> str:
    return read_json(job_dir(job_id) / "state.json", {}).get("state", "PENDING")


def next_job_id() -> str:
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "counter.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        counter = STATE / "counter"
        number = int(counter.read_text()) + 1 if counter.exists() else 1000
        counter.write_text(str(number))
    return str(number)


def option(argv: list[str], *names: str) -> str | None:
    """The value of ``--name=value``, ``--name value`` or ``-n value`` in an sbatch call."""
    for index, arg in enumerate(argv):
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
    return None


# --- commands ------------------------------------------------------------------------------


def sbatch(argv: list[str]) -> int:
    job_id = next_job_id()
    folder = job_dir(job_id)
    folder.mkdir(parents=True)
    wrap = option(argv, "--wrap")
    if wrap is None:
        print("sbatch: error: the stand-in only takes --wrap", file=sys.stderr)
        return 1
    write_json(folder / "argv.json", argv)
    set_state(job_id, "PENDING")
    subprocess.Popen(
        [sys.executable, __file__, "_run", job_id],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    print(job_id)
    return 0


def _signal_groups(job_id: str, sig: int, steps_only: bool = False) -> None:
    folder = job_dir(job_id)
    groups = [int(p.read_text()) for p in (folder / "steps").glob("*.pgid")]
    if not steps_only:
        groups += [int(read_json(folder / "batch.json", {}).get("pgid", 0))]
    for group in groups:
        if group > 1:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)


def _end_run(job_id: str, batch: subprocess.Popen, kill_wait: float) -> None:
    """SIGTERM to every process of the run, SIGKILL to what is left after ``kill_wait``."""
    _signal_groups(job_id, signal.SIGTERM)
    deadline = time.monotonic() + kill_wait
    while batch.poll() is None and time.monotonic() < deadline:
        time.sleep(POLL)
    _signal_groups(job_id, signal.SIGKILL)
    batch.wait()


def run(job_id: str) -> int:
    """Run a job's batch script until it ends, again after every requeue."""
    folder = job_dir(job_id)
    argv = read_json(folder / "argv.json")
    workdir = option(argv, "-D", "--chdir") or os.getcwd()
    output = (option(argv, "--output", "-o") or f"slurm-{job_id}.out").replace("%j", job_id)
    append = option(argv, "--open-mode") == "append"
    stop_request = option(argv, "--signal")
    trigger = os.environ.get("STANDIN_SIGNAL_WHEN")
    grace = float(os.environ.get("STANDIN_LIMIT_GRACE", "60"))
    kill_wait = float(os.environ.get("STANDIN_KILL_WAIT", "5"))
    runs = 0
    while True:
        runs += 1
        (folder / "steps").mkdir(exist_ok=True)
        for old in (folder / "steps").glob("*.pgid"):
            old.unlink()
        write_json(folder / "runs.json", runs)
        env = os.environ | {"SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id}
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        with open(output, "a" if append else "w") as log:
            batch = subprocess.Popen(
                ["/bin/sh", "-c", option(argv, "--wrap")],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            write_json(folder / "batch.json", {"pgid": batch.pid})
            set_state(job_id, "RUNNING")
            signalled_at = None
            timed_out = False
            while batch.poll() is None:
                time.sleep(POLL)
                if (folder / "requeue").exists():
                    _end_run(job_id, batch, kill_wait)
                    break
                due = stop_request and trigger and runs == 1 and signalled_at is None
                if due and glob.glob(os.path.join(workdir, trigger)):
                    name = stop_request.split("@")[0].removeprefix("B:").removeprefix("R:")
                    sig = getattr(signal, "SIG" + name.removeprefix("SIG"))
                    _signal_groups(job_id, sig, steps_only=True)
                    signalled_at = time.monotonic()
                    write_json(folder / "signalled.json", {"signal": name, "run": runs})
                if signalled_at is not None and time.monotonic() - signalled_at > grace:
                    timed_out = True
                    _end_run(job_id, batch, kill_wait)
                    break
        if (folder / "requeue").exists():
            (folder / "requeue").unlink()
            time.sleep(1)  # SLURM holds a requeued job briefly before it is eligible again
            set_state(job_id, "PENDING")
            continue
        if timed_out:
            set_state(job_id, "TIMEOUT")
        else:
            set_state(job_id, "COMPLETED" if batch.returncode == 0 else "FAILED")
        return 0


def srun(argv: list[str]) -> int:
    """Run the step's command in a process group of its own, recorded for signalling."""
    command = list(argv)
    while command and command[0].startswith("-"):
        command.pop(0)
    if not command:
        print("srun: no command", file=sys.stderr)
        return 1
    job_id = os.environ.get("SLURM_JOB_ID")
    step = subprocess.Popen(command, start_new_session=True)
    if job_id:
        steps = job_dir(job_id) / "steps"
        steps.mkdir(parents=True, exist_ok=True)
        (steps / f"{step.pid}.pgid").write_text(str(step.pid))
    return step.wait()


def scontrol(argv: list[str]) -> int:
    if argv[:2] == ["show", "config"]:
        print("MinJobAge               = 300 sec")
        return 0
    if argv and argv[0] == "requeue" and len(argv) > 1:
        job_id = argv[1]
        if not job_dir(job_id).exists():
            print(f"scontrol: error: Invalid job id specified {job_id}", file=sys.stderr)
            return 1
        if "--requeue" not in read_json(job_dir(job_id) / "argv.json"):
            print(f"scontrol: error: job {job_id} is not requeueable", file=sys.stderr)
            return 1
        set_state(job_id, "REQUEUED")
        (job_dir(job_id) / "requeue").touch()
        return 0
    print(f"scontrol: stand-in does not know {shlex.join(argv)}", file=sys.stderr)
    return 1


def sacct(argv: list[str]) -> int:
    if "--name" in argv or any(a.startswith("--name=") for a in argv):
        name = option(argv, "--name")
        for folder in sorted((STATE / "jobs").glob("*")):
            if option(read_json(folder / "argv.json", []), "--job-name") == name:
                print(f"{folder.name}|{state_of(folder.name)}")
        return 0
    if any("Account" in a for a in argv):
        print("standin_account")
        return 0
    if any("nodelist" in a.lower() for a in argv):
        print("standin-node")
        return 0
    if any("Reason" in a for a in argv):
        print("None")
        return 0
    return 0


def sinfo(argv: list[str]) -> int:
    print("PARTITION\ncpu*\ngpu")
    return 0


def sacctmgr(argv: list[str]) -> int:
    print("standin_account")
    return 0


def squeue(argv: list[str]) -> int:
    return 0


COMMANDS = {
    "sbatch": sbatch,
    "srun": srun,
    "scontrol": scontrol,
    "sacct": sacct,
    "sinfo": sinfo,
    "sacctmgr": sacctmgr,
    "squeue": squeue,
}


def install(bin_dir: Path, state_dir: Path) -> dict[str, str]:
    """Write the shims into ``bin_dir``; return the environment variables that put them first
    on PATH and say where the stand-in keeps its state."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        shim = bin_dir / name
        shim.write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(__file__)} {name} "$@"\n'
        )
        shim.chmod(0o755)
    # The shims, then this Python's environment (gianet, snakemake), then the rest.
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {"PATH": path, "STANDIN_SLURM_DIR": str(state_dir)}


def submitted(state_dir: Path) -> list[dict]:
    """Every job submitted so far: id, sbatch arguments, state, number of runs."""
    jobs = []
    for folder in sorted((state_dir / "jobs").glob("*"), key=lambda p: int(p.name)):
        argv = json.loads((folder / "argv.json").read_text())
        jobs.append(
            {
                "id": folder.name,
                "argv": argv,
                "comment": option(argv, "--comment") or "",
                "state": json.loads((folder / "state.json").read_text())["state"],
                "runs": read_json(folder / "runs.json", 0),
                "signalled": (folder / "signalled.json").exists(),
            }
        )
    return jobs


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "_run":
        sys.exit(run(rest[0]))
    sys.exit(COMMANDS[command](rest))

"""A stand-in for SLURM's commands, so that the real snakemake-executor-plugin-slurm (2.8.0)
drives jobs on one machine: ``sbatch``, ``srun``, ``scancel``, ``scontrol``, ``sacct``,
``squeue``, ``sinfo`` and ``sacctmgr``. :func:`install` puts shims on PATH; jobs run locally,
in the background, one runner process per job (``runner.py``); the controller's state lives in
``$STANDIN_SLURM_DIR`` (``jobs.py``).

What the plugin calls (its code, 2.8.0): ``sbatch --parsable --job-name <run uuid> --output
<log> --export=ALL --comment rule_<rule>_wildcards_<w> -A <account> -p <partition> -t <min>
--mem <MB> [--requeue] [--gpus=N] --cpus-per-task=<threads> <slurm_extra> -D <dir>
--wrap="<jobstep snakemake>"``; inside the job, the jobstep plugin runs ``srun -n1
--cpu-bind=q --cpus-per-task=<threads> [--gpus=N] --nodes=1 <snakemake>``; status by ``sacct -X
--parsable2 --clusters all --noheader --format=JobIdRaw,State --starttime ... --endtime now
--name <uuid>`` (COMPLETED: success; BOOT_FAIL, CANCELLED, DEADLINE, FAILED, NODE_FAIL,
OUT_OF_MEMORY, TIMEOUT, ERROR: failure, then ``sacct -j <id>.<step> --format=Reason``; any
other state: still running), ``scontrol show config`` (MinJobAge), ``sinfo -o %P``,
``sacctmgr``/``sacct -nu <user> -o Account`` for the account; on Ctrl-C of Snakemake, ``scancel
<ids>``. gianet calls ``scontrol requeue Incomplete <id>`` and ``scontrol show job <id>``.

The behaviour follows SLURM's documentation (slurm.schedmd.com man pages) and slurmctld:

- ``sbatch --requeue``: "the batch script is initiated from its beginning with the same job
  ID"; "The JobRequeue configuration parameter controls the default" (1: requeueable) —
  ``--no-requeue`` makes a job refuse ``scontrol requeue``. ``SLURM_RESTART_COUNT``: "the
  number of times the job has been restarted", set in the batch step of requeued runs only
  (slurmd's ``setup_env`` sets it when the restart count is not 0); a step started by
  ``srun`` gets the environment of srun's caller, and the jobstep plugin removes every
  ``SLURM_*`` variable but the job's id and a few others before its ``srun``, so a rule never
  sees it.
- ``sbatch --signal=[{R|B}:]<sig_num>[@sig_time]``: "When a job is within sig_time seconds of
  its end time, send it the signal sig_num [...] Use the "B:" option to signal only the batch
  shell, none of the other processes will be signaled. By default all job steps will be
  signaled, but not the batch shell itself." slurmctld's ``_job_requeue_op`` clears the
  warning's sent flag on requeue ("clear signal sent flag on requeue"), so the warning fires
  again in every run that nears its limit. Stand-in time: a run nears its limit once a file
  matching ``STANDIN_TIME_LIMIT_AT`` is written during it, for the first
  ``STANDIN_TIME_LIMITED_RUNS`` runs; the limit itself strikes ``STANDIN_LIMIT_GRACE`` seconds
  after the warning (at once when the job asked for none).
- ``sbatch --time``: "When the time limit is reached, each task in each job step is sent
  SIGTERM followed by SIGKILL. The interval between signals is specified by the Slurm
  configuration parameter KillWait" (``STANDIN_KILL_WAIT``; SLURM's default 30 s). The job is
  TIMEOUT (sacct: "Job terminated upon reaching its time limit") from that moment.
- ``scancel`` without ``--signal``: "send first a SIGCONT to all steps to eventually wake them
  up followed by a SIGTERM, then wait the KillWait duration [...] and finally if they have not
  terminated send a SIGKILL"; the job is CANCELLED at once, and sacct prints it as
  ``CANCELLED by <uid>`` (sacct's State field when the requester is known). A pending job is
  cancelled without running. Terminating a job that has ended is no error (scancel.c ignores
  ESLURM_ALREADY_DONE for a kill). ``scancel --signal`` (``-s``): "By default, signals other
  than SIGKILL are not sent to the batch step"; ``-b`` signals the batch shell only, ``-f``
  the batch step and the other steps.
- ``scontrol requeue <job_list>``: "Requeue a running, suspended or finished Slurm batch job
  into pending state"; ``Incomplete``: "Operate only on jobs (or tasks of a job array) which
  have not completed. Specifically only jobs in the following states will be requeued:
  CONFIGURING, RUNNING, STOPPED or SUSPENDED." slurmctld's ``_job_requeue_op``: with
  Incomplete (``flags & JOB_STATE_BASE == JOB_RUNNING``) a job that is not running is left
  alone and the call still succeeds; a job that does not allow requeue is refused
  (ESLURM_DISABLED); a pending job is refused (ESLURM_JOB_PENDING); a job that is completing
  (CANCELLED or TIMEOUT, processes still ending) is requeued ("we support requeue of
  done/exit/exiting jobs"): it turns PENDING and runs again once its processes are gone; a
  running job is requeued: its run ends (REQUEUED in sacct while its processes get SIGCONT,
  SIGTERM and, after KillWait, SIGKILL), then PENDING, then the batch script runs again with
  the same id; ``restart_cnt`` (``scontrol show job``'s ``Restarts=``) grows by one in every
  requeue. The stand-in starts a requeued job again ``STANDIN_REQUEUE_DELAY`` seconds after its
  old run is gone. ``scontrol show job <id>`` prints ``JobState=`` (COMPLETING while processes
  end), ``Restarts=``, ``Requeue=``, ``Comment=`` and ``StdOut=`` among SLURM's fields.
- ``srun``: "Signals sent to the srun command are automatically forwarded to the tasks it is
  controlling"; the step's processes form a process group the controller signals as a step.
- The jobstep plugin's job runner (Snakemake, the step's first process) on SIGTERM "Will exit
  after finishing currently running jobs" and then exits with an error even when the job
  succeeded; the outer Snakemake then fails the job and removes its outputs. This is the real
  Snakemake and plugin at work here, not the stand-in.
- ``squeue``: by default jobs PENDING, RUNNING or COMPLETING; ``--states=all`` every job;
  ``-o`` codes ``%i`` (job id), ``%j`` (name), ``%T``/``%t`` (state), ``%k`` ("Comment
  associated with the job"), ``%P``, ``%C``, ``%u``, ``%M``, ``%D``, ``%R``; a job whose
  processes are still ending shows COMPLETING (job_state_string puts the flag first).

Not modelled: scheduling (every job starts at once), nodes and their failures, memory,
partitions' limits, job arrays, OverTimeLimit, SlurmctldParameters, RequeueExit.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from tests.slurm_standin import jobs
from tests.slurm_standin.commands import COMMANDS, ENTRY, finished, option

__all__ = ["install", "submitted", "option", "finished", "events"]


def install(bin_dir: Path, state_dir: Path) -> dict[str, str]:
    """Write the shims into ``bin_dir``; return the environment variables that put them first
    on PATH and say where the stand-in keeps its state."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        shim = bin_dir / name
        shim.write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(ENTRY))} {name} "$@"\n'
        )
        shim.chmod(0o755)
    # The shims, then this Python's environment (gianet, snakemake), then the rest.
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {"PATH": path, "STANDIN_SLURM_DIR": str(state_dir)}


def submitted(state_dir: Path) -> list[dict]:
    """Every job submitted so far: id, sbatch arguments, comment, state (as sacct prints it),
    number of runs and restarts, the run's events and the arguments of its steps."""
    previous = os.environ.get("STANDIN_SLURM_DIR")
    os.environ["STANDIN_SLURM_DIR"] = str(state_dir)
    try:
        found = []
        for job_id in jobs.all_ids():
            record = jobs.read(job_id)
            steps = jobs.job_dir(job_id) / "steps"
            found.append(
                {
                    "id": job_id,
                    "argv": record["argv"],
                    "comment": record["comment"],
                    "state": jobs.sacct_state(record),
                    "runs": record.get("runs", 0),
                    "restarts": record.get("restarts", 0),
                    "events": jobs.events(job_id),
                    "steps": [json.loads(p.read_text())["argv"] for p in steps.glob("*.json")],
                }
            )
        return found
    finally:
        if previous is None:
            os.environ.pop("STANDIN_SLURM_DIR")
        else:
            os.environ["STANDIN_SLURM_DIR"] = previous


def events(state_dir: Path, job_id: str) -> list[dict]:
    """The events of one job (submit, run, signal, cancel, requeue, terminate, ended)."""
    return [job for job in submitted(state_dir) if job["id"] == job_id][0]["events"]

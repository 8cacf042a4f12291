"""One run per output at a time: the lock of an output refuses a second run in one line naming
the holder, survives nothing of a killed holder, and takes no space after a run; two
``sid-unpack`` into one target and two trainings of one model cannot interleave; pack's worker
processes die with the main process."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from gianet.cli import main
from gianet.data.sources import read_record
from gianet.fetch.sid import packaged_files
from gianet.jobs import locks
from gianet.jobs.locks import OutputBusy, lock_file, output_lock, output_locks
from gianet.paths import SPLITS
from gianet.report import costs
from gianet.stages import STAGES
from tests.lock_holder import SRC, hold_lock
from tests.stage_inputs import cost_argv, sid_archive, train_argv, unpack_argv


def test_a_second_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    output = tmp_path / "model.pt"
    with hold_lock(output, "gianet train --model model.pt") as holder:
        with pytest.raises(OutputBusy) as raised, output_lock(output):
            raise AssertionError("the second run must not start")
        record = json.loads(lock_file(output).read_text())
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{output}: another run is making it")
    assert f"pid {holder.pid} on {record['host']} since {record['started']}" in message
    assert "(gianet train --model model.pt)" in message and f"kill {holder.pid}" in message
    assert not output.exists()


def test_a_run_leaves_no_lock_file_and_no_folder_it_made_for_one(tmp_path: Path) -> None:
    output = tmp_path / "a" / "b" / "summary.json"
    with output_lock(output):
        assert lock_file(output).is_file() and output.parent.is_dir()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with output_lock(tmp_path / "kept" / "x.json"):
        (tmp_path / "kept" / "x.json").write_text("{}")
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["x.json"]


def test_locks_are_reentrant_within_a_process(tmp_path: Path) -> None:
    output = tmp_path / "archive.zip"
    with output_locks([output, tmp_path / "other"]), output_lock(output), output_lock(output):
        assert lock_file(output).is_file()
    assert not lock_file(output).exists()


def test_the_lock_of_a_killed_holder_is_taken_over(tmp_path: Path) -> None:
    output = tmp_path / "manifest.json"
    with hold_lock(output) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert lock_file(output).exists()  # the file stays, the lock went with the process
        with output_lock(output):
            assert json.loads(lock_file(output).read_text())["pid"] == os.getpid()


def test_a_waiting_lock_waits_for_the_holder_to_finish(tmp_path: Path) -> None:
    output = tmp_path / "sid-archives.sha256"
    with hold_lock(output) as holder:
        threading.Timer(0.5, holder.kill).start()
        start = time.monotonic()
        with output_lock(output, wait=True):
            waited = time.monotonic() - start
    assert waited >= 0.4


def test_a_file_system_without_locks_warns_once_and_goes_on(tmp_path, monkeypatch, capsys) -> None:
    def refuse(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locks.fcntl, "flock", refuse)
    for name in ("a", "b"):
        with output_lock(tmp_path / name):
            pass
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1 and "refuses locks (No locks available)" in warnings[0]
    assert "-o flock" in warnings[0] and list(tmp_path.iterdir()) == []


def test_a_link_planted_at_the_lock_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    lock_file(tmp_path / "out.json").symlink_to(victim)
    with pytest.raises(OSError, match="is a symbolic link"), output_lock(tmp_path / "out.json"):
        pass
    assert victim.read_text() == "keep me"


# The command line takes the locks of a stage's outputs before it runs.


def test_a_stage_whose_output_is_being_made_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    def never(*args):
        raise AssertionError("the stage must not run")

    monkeypatch.setattr(costs, "write_costs", never)
    out = tmp_path / "cost.json"
    with hold_lock(out, "gianet cost --out cost.json") as holder:
        code = main(cost_argv(out))
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "Traceback" not in error
    assert error.startswith(
        f"gianet cost: error: {out}: another run is making it: pid {holder.pid}"
    )


def test_two_trainings_of_one_model_do_not_interleave(tmp_path: Path, capsys, monkeypatch) -> None:
    # A training waits a bounded time for an ending run of its model (the train stage's
    # wait_for_outputs, minutes); here 1 s.
    monkeypatch.setitem(STAGES, "train", replace(STAGES["train"], wait_for_outputs=1.0))
    model = tmp_path / "models" / "model.pt"
    with hold_lock(model, "gianet train (the other run)") as holder:
        code = main(train_argv(tmp_path / "cache" / "manifest.json", model.parent))
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error
    waited, refused = error.splitlines()
    assert waited.startswith(f"{model}: waiting up to 1 s for pid {holder.pid}")
    assert refused.startswith(
        f"gianet train: error: {model}: another run is making it (still, after 1 s): "
        f"pid {holder.pid}"
    )
    assert "(gianet train (the other run))" in refused
    assert not (tmp_path / "models" / "train_history.log").exists()  # nothing was noted


def _archive(path: Path, files: int, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as bundle:
        for number in range(files):
            bundle.writestr(f"Sony/short/{number:05d}_00_0.1s.ARW", os.urandom(size))
    return path


def _unpack(archive: Path, root: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    argv = [sys.executable, "-m", "gianet.cli", *unpack_argv(root, archive)]
    return subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)


def test_two_unpacks_into_one_target_leave_a_complete_extraction(tmp_path: Path) -> None:
    size = 4096  # every file SID's Sony lists name: 2928 files, 12 MB
    archive = sid_archive(tmp_path / "Sony.zip", size)
    root = tmp_path / "data"
    runs = [_unpack(archive, root) for _ in range(2)]
    outcomes = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    for run in runs:
        run.stderr.close()

    assert 0 in [code for code, _ in outcomes]
    for code, error in outcomes:
        assert code == 0 or (code == 2 and "another run is making it" in error), error
    _assert_complete(root / "Sony", len(packaged_files("Sony")), size)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["Sony", "Sony_sources.tsv", *(f"Sony_{split}_list.txt" for split in SPLITS)]
    )
    recorded = read_record(root / "Sony_sources.tsv")
    assert sorted(recorded) == packaged_files("Sony")
    assert all(size == bytes_ for bytes_, _ in recorded.values())


def _assert_complete(target: Path, files: int, size: int) -> None:
    marker = json.loads((target / ".extracted.json").read_text())
    assert len(marker["files"]) == files
    assert all((target / name).stat().st_size == size for name in marker["files"])


_SLOW_EXTRACT = """
import sys, time
from pathlib import Path
from gianet.fetch import extract
copy = extract._copy_member
def slow(*args):
    time.sleep(float(sys.argv[3]))
    return copy(*args)
extract._copy_member = slow
try:
    extract.safe_extract(Path(sys.argv[1]), Path(sys.argv[2]), members_prefix="Sony",
                         progress=False)
except Exception as exc:
    print(type(exc).__name__, exc, file=sys.stderr)
    sys.exit(2)
"""


def test_a_second_extraction_started_during_the_first_is_refused(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "Sony.zip", files=20, size=100_000)
    target = tmp_path / "data" / "Sony"
    env = dict(os.environ, PYTHONPATH=str(SRC))

    def extraction(delay: float) -> subprocess.Popen:
        argv = [sys.executable, "-c", _SLOW_EXTRACT, str(archive), str(target), str(delay)]
        return subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)

    first = extraction(0.1)  # 20 members: about 2 s
    deadline = time.monotonic() + 60
    while not list(target.parent.glob(".Sony.partial-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = extraction(0.0)
    codes = first.wait(timeout=120), second.wait(timeout=120)
    errors = first.stderr.read(), second.stderr.read()
    first.stderr.close()
    second.stderr.close()

    assert codes == (0, 2), errors
    assert "OutputBusy" in errors[1] and f"pid {first.pid}" in errors[1]
    _assert_complete(target, 20, 100_000)


# pack's worker processes die with it.

_POOL = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from tied import tie
pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                           initializer=tie, initargs=(os.getpid(), sys.argv[1] == "polling"))
list(pool.map(time.sleep, [0.3, 0.3]))
print(*sorted(pool._processes), flush=True)
pool.submit(time.sleep, 600)
time.sleep(600)
"""
#: The initializer, importable by spawned workers; ``polling`` takes the path of systems
#: without prctl (a thread watching the parent).
_TIED = """
from gianet.jobs import children
def tie(parent, polling):
    if polling:
        children._set_death_signal = lambda number: False
    children.die_with_parent(parent)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's reaping is missing


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("how", ["prctl", "polling"])
def test_workers_die_when_the_main_process_is_killed(tmp_path: Path, how: str) -> None:
    (tmp_path / "tied.py").write_text(_TIED)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(tmp_path)]))
    main_process = subprocess.Popen(
        [sys.executable, "-c", _POOL, how], stdout=subprocess.PIPE, text=True, env=env
    )
    workers = [int(pid) for pid in main_process.stdout.readline().split()]
    main_process.stdout.close()
    assert workers and all(map(_alive, workers))

    main_process.send_signal(signal.SIGKILL)
    main_process.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers))


def test_pack_starts_its_workers_tied_to_it(tmp_path: Path, monkeypatch) -> None:
    from gianet.data import cache
    from gianet.jobs.children import die_with_parent

    made = {}

    class Pool:
        def __init__(self, **options) -> None:
            made.update(options)
            raise RuntimeError("stop here")

    monkeypatch.setattr(cache, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(cache, "bounded", lambda workers, key: workers)
    with pytest.raises(RuntimeError, match="stop here"):
        cache.build_cache(tmp_path, {"train": []}, tmp_path / "cache", record=tmp_path / "record",
                          levels="sid", workers=2, progress=False)  # fmt: skip
    assert made["initializer"] is die_with_parent and made["initargs"] == (os.getpid(),)

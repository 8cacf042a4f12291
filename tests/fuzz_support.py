"""What the fuzz tests share: mutations of bytes, JSON and YAML, one case (inputs under in/,
the run's outputs under out/), its time bound, and how a case is run and judged: a one-line
error (exit 2, the ``gianet STAGE: error:`` line, no traceback) or a correct result (exit 0
and the outputs it promises), and no file outside the run's own outputs changed."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import random
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gianet.cli import main
from gianet.data.arrays import array_problem

#: Seconds one case may take before it counts as a hang.
CASE_SECONDS = 20.0
INTERESTING = [None, True, -1, 0, 1, 2**63, 1e308, -1e-308, "", "../../x", [], {}, "Sony", 3.5]

#: What a training or an evaluation may update in a cache copied to ``in/cache``
#: (:mod:`gianet.data.verify`): its verification record, and the arrays it rebuilds with
#: their entries.
CACHE_UPDATES = ("in/cache/verified.json", "in/cache/inputs/*", "in/cache/gt/*")


class CaseTimeout(BaseException):
    """A case ran past :data:`CASE_SECONDS` (a hang)."""


@contextlib.contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    def expire(signum, frame):
        raise CaseTimeout(f"the case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    kind = rng.choice(["flip", "truncate", "insert", "delete", "duplicate", "random", "splice"])
    if kind == "random" or not data:
        return rng.randbytes(rng.randrange(0, 3000))
    at = rng.randrange(len(data))
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del data[at:]
    elif kind == "insert":
        data[at:at] = rng.randbytes(rng.randint(1, 64))
    elif kind == "delete":
        del data[at : at + rng.randint(1, 256)]
    elif kind == "duplicate":
        data[at:at] = data[at : at + rng.randint(1, 256)]
    else:
        data[at : at + 4] = rng.choice(
            [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]
        )
    return bytes(data)


def mutate_value(value, rng: random.Random):
    """``value`` (parsed JSON/YAML) with one node replaced, removed or nested away."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        copy = dict(value)
        roll = rng.random()
        if roll < 0.15:
            del copy[key]
        elif roll < 0.25:
            copy[f"{key}_extra"] = copy[key]
        else:
            copy[key] = mutate_value(copy[key], rng)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.8:
        copy = list(value)
        index = rng.randrange(len(copy))
        if rng.random() < 0.2:
            del copy[index]
        else:
            copy[index] = mutate_value(copy[index], rng)
        return copy
    if isinstance(value, (int, float)) and not isinstance(value, bool) and rng.random() < 0.5:
        return rng.choice([value * 10, value + 1, -value, value // 3 if value else 7, 0])
    return rng.choice(INTERESTING)


def mutate_text(text: str, rng: random.Random, parse: Callable, dump: Callable) -> bytes:
    if rng.random() < 0.5:
        return dump(mutate_value(parse(text), rng)).encode()
    return mutate_bytes(text.encode(), rng)


@dataclass(frozen=True)
class Seeds:
    folder: Path
    dataset: Path
    raw: bytes
    checkpoint: bytes
    cache: Path
    archives: dict[str, bytes]
    params: str
    #: ``gianet train``'s settings and a runtime (JSON), as the workflow passes them.
    train: str
    runtime: str
    #: A zip of every file SID's Sony lists name (empty files): ``sid-unpack`` of it succeeds.
    sid_archive: bytes


def arrays_read(manifest: Path, split: str) -> list[Path]:
    """The arrays of a split's pairs (which a training, ``train``, or an evaluation,
    ``test``, reads and so checks and rebuilds)."""
    loaded = json.loads(manifest.read_text())
    names = {name for pair in loaded["splits"][split] for name in (pair["short"], pair["long"])}
    return [manifest.parent / loaded["entries"][name]["array"] for name in sorted(names)]


def hold_their_bytes(manifest: Path, arrays: list[Path]) -> None:
    """Each of ``arrays`` is a regular file holding the bytes its manifest entry records."""
    entries = json.loads(manifest.read_text())["entries"].values()
    for meta in entries:
        if manifest.parent / meta["array"] in arrays:
            assert not (manifest.parent / meta["array"]).is_symlink()
            assert array_problem(manifest.parent, meta, full=True) is None


# One case: inputs under in/, the run's outputs under out/.


@dataclass
class Case:
    """One run of ``gianet`` on ``argv``; ``check_result`` judges an exit 0, ``check_error``
    (when set) the error of an exit 2 (all of stderr); ``during`` is held around the run
    (another process holding a lock, a resource limit); ``expect_error``, when set, must be in
    the error line (the run may not succeed). ``kept`` are patterns (:mod:`fnmatch`, relative
    to ``folder``) of input files the run may update although they are no declared output: a
    cache's verification record and the arrays it rebuilds (:mod:`gianet.data.verify`)."""

    folder: Path
    stage: str
    argv: list[str]
    check_result: Callable[[], None]
    during: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    expect_error: str | None = None
    check_error: Callable[[str], None] | None = None
    kept: tuple[str, ...] = ()

    @property
    def inputs(self) -> Path:
        return self.folder / "in"


def snapshot(folder: Path, kept: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file and folder under ``folder`` except ``out/`` and those matching ``kept``,
    with a digest of each file."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if relative == "out" or relative.startswith("out/"):
            continue
        if any(fnmatch.fnmatchcase(relative, pattern) for pattern in kept):
            continue
        found[relative] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "/"
    return found


def run_case(case: Case, capsys) -> tuple[int, str]:
    """Run one case and check its outcome; returns the exit status and the error line."""
    before = snapshot(case.folder, case.kept)
    capsys.readouterr()
    try:
        with time_bound(CASE_SECONDS), case.during():
            code = main(case.argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr, stderr
    assert code in (0, 2), (code, stderr)
    errors = [line for line in stderr.splitlines() if line.startswith(f"gianet {case.stage}:")]
    if code == 2:
        assert errors and errors[0].startswith(f"gianet {case.stage}: error: "), stderr
        assert case.expect_error is None or case.expect_error in errors[0], errors[0]
        if case.check_error is not None:
            case.check_error(stderr)
    else:
        assert case.expect_error is None, f"expected an error with {case.expect_error!r}"
        case.check_result()
    assert snapshot(case.folder, case.kept) == before, "a file outside the run's outputs changed"
    return code, errors[0] if errors else ""

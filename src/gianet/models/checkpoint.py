"""Saving and loading model checkpoints safely, and building the network one describes.

A checkpoint is a plain dictionary of tensors, strings and numbers, so it loads with
``torch.load(weights_only=True)``: a file carrying pickled code is refused, never run.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch

from gianet import atomic
from gianet.errors import GianetError, one_line
from gianet.models import build_model


class CheckpointError(GianetError, ValueError):
    """A checkpoint file is missing, truncated, unsafe or not one of gianet's."""


REQUIRED_KEYS = (
    "state_dict",
    "arch",
    "arch_args",
    "in_channels",
    "upscale",
    "cfa",
    "camera",
    "variant",
)


def _atomic_save(path: Path, value: dict) -> None:
    """``torch.save`` through :mod:`gianet.atomic` (the folder is created if a scheduler
    removed it). The bytes are made in memory first, so that a full disk surfaces as the
    operating system's error rather than as torch's internal one."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    atomic.write_bytes(path, buffer.getbuffer())


def save_checkpoint(path: str | Path, model: torch.nn.Module, meta: dict) -> None:
    """Write ``{"state_dict": ..., **meta}`` atomically (temporary file, then rename)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_save(Path(path), {"state_dict": state, **meta})


def save_training_state(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    epochs_done: int,
    meta: dict,
) -> None:
    """Everything a stopped run needs to resume: weights, optimizer moments, epochs done."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    value = {"state_dict": state, "optimizer": optimizer.state_dict(), **meta}
    _atomic_save(Path(path), value | {"epochs_done": epochs_done})


#: How a torch file starts: a zip archive (torch.save since 1.6) or a pickle (older files).
_TORCH_SIGNATURES = (b"PK\x03\x04", b"\x80")
_FIX = "use a model.pt written by gianet train"


def load_checkpoint(path: str | Path, fix: str = _FIX) -> dict:
    """Load a checkpoint with ``weights_only=True`` and check that it is one of gianet's.

    Args:
        path: the file.
        fix: what the messages advise.

    Raises:
        CheckpointError: naming the file and what is wrong with it: missing, a folder, not
            a torch file at all, damaged or truncated, carrying code, or not gianet's.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint; train the model first")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint; {fix}")
    if not path.is_file():  # reading a FIFO would wait for a writer for ever
        raise CheckpointError(f"{path}: not a regular file (a FIFO, device or socket); {fix}")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head.startswith(_TORCH_SIGNATURES):
        raise CheckpointError(
            f"{path}: not a checkpoint (a torch file starts as a zip archive or a pickle; "
            f"this one starts with {head!r}); {fix}"
        )
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        detail = str(exc)
        if "Weights only load failed" in detail:
            reason = next(
                (line for line in detail.splitlines() if "Unsupported" in line),
                detail.splitlines()[0],
            )
            raise CheckpointError(
                f"{path}: refused: the file holds more than weights (it would run code when "
                f"loaded: {one_line(reason)}). {fix[0].upper()}{fix[1:]}."
            ) from None
        first = detail.splitlines()[0] if detail else ""
        raise CheckpointError(
            f"{path}: not a readable checkpoint, perhaps truncated or damaged "
            f"({type(exc).__name__}: {one_line(first)}); retrain or copy it again"
        ) from None
    problem = _checkpoint_problem(checkpoint)
    if problem:
        raise CheckpointError(f"{path}: not a gianet checkpoint ({problem}); {fix}")
    return checkpoint


def load_training_state(path: str | Path) -> dict | None:
    """The resumable training state at ``path`` (:func:`save_training_state`), or ``None``
    when there is none.

    Raises:
        gianet.atomic.LinkRefused: a symbolic link, FIFO or folder sits there: a state is
            resumed only from the file training itself wrote.
        CheckpointError: the file is not a readable state; the message says to delete it.
    """
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return None
    os.close(atomic.open_no_follow(path, os.O_RDONLY))
    fix = "delete it to train from the start (it is the resumable state training writes)"
    return load_checkpoint(path, fix)


def _checkpoint_problem(checkpoint: object) -> str | None:
    """What makes a loaded object unusable as a gianet checkpoint, or ``None``."""
    if not isinstance(checkpoint, dict):
        return f"holds a {type(checkpoint).__name__}, not a dictionary"
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        return f"missing {', '.join(missing)}"
    state = checkpoint["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        return "its state_dict is not a dictionary of tensors"
    if not isinstance(checkpoint["arch"], str) or not isinstance(checkpoint["arch_args"], dict):
        return "its arch is not a name with a dictionary of arguments"
    if checkpoint["cfa"] not in ("bayer", "xtrans"):
        return f"its cfa is {checkpoint['cfa']!r}, not bayer or xtrans"
    for key in ("in_channels", "upscale"):
        if type(checkpoint[key]) is not int or not 0 < checkpoint[key] <= 64:
            return f"its {key} is {checkpoint[key]!r}"
    return None


def load_model(path: str | Path, cfa: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Build the network a checkpoint describes and load its weights (eval mode, CPU).

    The network is first laid out on torch's ``meta`` device (no memory) and its parameter
    names and shapes compared with the file's, so a checkpoint describing a network that its
    weights do not fit (a huge one, say) is refused before anything is allocated.

    Args:
        path: checkpoint written by training.
        cfa: if given, the CFA the data has; a checkpoint trained for another is refused.

    Raises:
        CheckpointError: see :func:`load_checkpoint`; also trained for another CFA, or
            weights that do not fit the network the checkpoint describes.
    """
    checkpoint = load_checkpoint(path)
    if cfa is not None:
        check_cfa(path, checkpoint, cfa)
    arguments = {
        "in_channels": checkpoint["in_channels"],
        "upscale": checkpoint["upscale"],
        **checkpoint["arch_args"],
    }
    try:
        with torch.device("meta"):
            layout = build_model(checkpoint["arch"], **arguments).state_dict()
        shapes = {name: tuple(tensor.shape) for name, tensor in checkpoint["state_dict"].items()}
        if {name: tuple(tensor.shape) for name, tensor in layout.items()} != shapes:
            raise ValueError("its weights' names or shapes differ from the network's")
        model = build_model(checkpoint["arch"], **arguments)
        model.load_state_dict(checkpoint["state_dict"])
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: its weights do not fit the network it describes "
            f"({checkpoint['arch']} {checkpoint['arch_args']}: {one_line(exc)}); "
            f"{_FIX}"
        ) from None
    return model.eval(), checkpoint


def check_cfa(path: str | Path, checkpoint: dict, cfa: str) -> None:
    """Refuse a checkpoint trained for another CFA than the data's.

    Raises:
        CheckpointError: naming the file, both CFAs and the fix.
    """
    if checkpoint["cfa"] != cfa:
        raise CheckpointError(
            f"{path}: trained for {checkpoint['cfa']} data but the input is {cfa}; use a "
            f"checkpoint trained on a {cfa} camera"
        )

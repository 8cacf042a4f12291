"""Saving and loading model checkpoints safely, and building the network one describes.

A checkpoint is a plain dictionary of tensors, strings and numbers, so it loads with
``torch.load(weights_only=True)``: a file carrying pickled code is refused, never run.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from gianet.errors import GianetError
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
    path.parent.mkdir(parents=True, exist_ok=True)  # a scheduler may have removed it
    temporary = path.with_name(path.name + ".partial")
    torch.save(value, temporary)
    os.replace(temporary, path)


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


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint with ``weights_only=True``.

    Raises:
        CheckpointError: naming the file and what is wrong with it.
    """
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint; train the model first") from None
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused: the file holds more than weights (it would run code when "
            f"loaded: {str(exc).splitlines()[0]}). Use a checkpoint written by gianet."
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(
            f"{path}: not a readable checkpoint, perhaps truncated ({exc}); retrain or copy "
            "it again"
        ) from None
    missing = [
        key for key in REQUIRED_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint
    ]
    if missing:
        raise CheckpointError(f"{path}: not a gianet checkpoint (missing {', '.join(missing)})")
    return checkpoint


def load_model(path: str | Path, cfa: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Build the network a checkpoint describes and load its weights (eval mode, CPU).

    Args:
        path: checkpoint written by training.
        cfa: if given, the CFA the data has; a checkpoint trained for another is refused.
    """
    checkpoint = load_checkpoint(path)
    if cfa is not None and checkpoint["cfa"] != cfa:
        raise CheckpointError(
            f"{path}: trained for {checkpoint['cfa']} data but the input is {cfa}; use a "
            f"checkpoint trained on a {cfa} camera"
        )
    model = build_model(
        checkpoint["arch"],
        in_channels=checkpoint["in_channels"],
        upscale=checkpoint["upscale"],
        **checkpoint["arch_args"],
    )
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint

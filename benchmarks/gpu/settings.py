"""The configuration the GPU checks run under, read from the repository as the workflow reads
it (params.yaml, with configs/paper.yaml merged over it for the paper's training), validated,
with only what a check changes written here: the runtime settings of a job and the recipe
of a training (:class:`gianet.training.recipe.Recipe`)."""

from __future__ import annotations

from pathlib import Path

from gianet.settings import deep_merge, read_yaml, validate_params
from gianet.settings.sections import Params, Runtime, Train
from gianet.training.recipe import Recipe
from gianet.variants import get_variant

REPO = Path(__file__).resolve().parents[2]
PAPER_CONFIG = REPO / "configs" / "paper.yaml"
SONY_VAL_LIST = REPO / "src" / "gianet" / "data" / "sid_lists" / "Sony_val_list.txt"


def params(*configfiles: Path) -> Params:
    """params.yaml with ``configfiles`` merged over it, validated."""
    merged = read_yaml(REPO / "params.yaml")
    for configfile in configfiles:
        merged = deep_merge(merged, read_yaml(configfile))
    names = " + ".join(["params.yaml", *(str(path.relative_to(REPO)) for path in configfiles)])
    return validate_params(merged, names)


def runtime(**changes: object) -> Runtime:
    """params.yaml's runtime section with ``changes``, validated."""
    return Runtime.model_validate(params().runtime.model_dump() | changes)


def paper_recipe(variant: str, **train_changes: object) -> Recipe:
    """The recipe of ``variant`` under configs/paper.yaml's train section with
    ``train_changes``, for its first seed."""
    train = Train.model_validate(params(PAPER_CONFIG).train.model_dump() | train_changes)
    return Recipe.for_variant(get_variant(variant), train, train.seeds[0])


def paper_cadence() -> tuple[int, int, int]:
    """configs/paper.yaml's validation and checkpoint cadence, and SID's Sony validation
    frames under its protocol (each scene's ``_00`` shots)."""
    paper = params(PAPER_CONFIG).runtime
    lines = SONY_VAL_LIST.read_text().splitlines()
    frames = sum("_00_" in line.split()[0] for line in lines if line)
    return paper.val_every, paper.checkpoint_every, frames

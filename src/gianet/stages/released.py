"""SID's released weights in the workflow: imported once, then scored like any run.

SID (Chen et al., CVPR 2018) released its trained SID-Net for each camera as a TensorFlow
checkpoint: SID's repository (github.com/cchen156/Learning-to-See-in-the-Dark) holds
``checkpoint/<camera>/model.ckpt.index``, and its ``download_models.py`` fetches the rest
(``model.ckpt.data-00000-of-00001``, ``model.ckpt.meta``). With
``sid.released_models.<camera>`` naming one, the workflow imports it (``gianet import-sid``,
:mod:`gianet.models.sid_import`) and evaluates it with ``gianet evaluate`` under each test
protocol of :func:`protocols`, so that packing, ground truth, protocol and metrics can be
checked against the scores others published for the same weights before any training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from gianet.data.lists import Selection
from gianet.settings.sections import CameraName, MetricName, Params
from gianet.stages.declaration import Argument, JobSettings, Output, stage
from gianet.stages.models import EvaluateJob

#: The test protocols SID's released weights are scored under: name -> (exposures, whether
#: ``sid.exclude_scenes`` is applied). ``all`` and ``first`` are gianet's protocol (the
#: scenes excluded); the ``_every_scene`` ones keep every scene of SID's test list, as the
#: published scores of the same weights do (the PyTorch port of cydonia999: 598 Sony pairs).
PROTOCOLS: dict[str, tuple[str, bool]] = {
    "all": ("all", True),
    "first": ("first", True),
    "all_every_scene": ("all", False),
    "first_every_scene": ("first", False),
}


#: The metrics the released weights are scored with: those their published scores give
#: (PSNR and SSIM: the port's README; SID's paper).
RELEASED_METRICS: list[MetricName] = ["psnr", "ssim"]


def released_cameras(params: Params) -> list[str]:
    """The configured cameras whose released weights are named (``sid.released_models``)."""
    return [camera for camera in params.cameras if params.sid.released_models.get(camera)]


def excluded_scenes(params: Params, camera: str) -> list[int]:
    """The scenes left out of ``camera``'s tests: ``sid.exclude_scenes`` on SID, none on
    sid-synth."""
    return list(params.sid.exclude_scenes[camera]) if params.dataset == "sid" else []


def protocols(params: Params, camera: str) -> list[str]:
    """The protocols ``camera``'s released weights are evaluated under: all short exposures
    and the ``_00`` shots; where scenes are excluded (Sony on SID), each also with every
    scene. sid-synth has no excluded scene, so there the two protocols alone."""
    with_every_scene = bool(excluded_scenes(params, camera))
    return [name for name, (_, excluded) in PROTOCOLS.items() if excluded or with_every_scene]


#: Where a user finds SID's checkpoint files, for the messages of a missing or damaged one.
WHERE_SID_WEIGHTS_ARE = (
    "SID's weights: github.com/cchen156/Learning-to-See-in-the-Dark holds "
    "checkpoint/<camera>/model.ckpt.index; its download_models.py fetches the data files"
)


class ImportJob(JobSettings):
    """What an import depends on besides the checkpoint's files: the camera it is for."""

    WILDCARDS = ("camera",)
    FROM_WILDCARDS = True
    camera: CameraName

    @classmethod
    def from_params(cls, params: Params, camera: str) -> ImportJob:
        return cls(camera=camera)


class ReleasedEvaluateJob(EvaluateJob):
    """An evaluation of SID's released weights under one of :data:`PROTOCOLS`: the
    settings of :class:`~gianet.stages.models.EvaluateJob`, with the protocol's test
    selection and the published scores' metrics (:data:`RELEASED_METRICS`)."""

    WILDCARDS = ("camera", "protocol")

    @classmethod
    def from_params(cls, params: Params, camera: str, protocol: str) -> ReleasedEvaluateJob:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
        exposures, excluded = PROTOCOLS[protocol]
        return cls(
            dataset=params.dataset,
            camera=camera,
            test=Selection(
                exposures=exposures,
                exclude_scenes=excluded_scenes(params, camera) if excluded else [],
            ),
            metrics=RELEASED_METRICS,
            lpips_backbone=params.evaluate.lpips_backbone,
            samples=params.evaluate.samples,
        )


def checkpoint_files(path: str | Path) -> list[Path]:
    """The files of the TensorFlow checkpoint ``path`` names (a prefix, its ``.index`` or
    the folder holding it): the index, then every data shard. What a rule reads, so a
    changed file imports again; where the checkpoint is not there (yet), the files it would
    have (``model.ckpt`` in a folder; one data shard, as SID's), for Snakemake to name as
    missing."""
    from gianet.fetch.tf_checkpoint import TFCheckpoint, TFCheckpointError, resolve_prefix

    try:
        return TFCheckpoint(resolve_prefix(path)).files()
    except TFCheckpointError:
        pass
    given = Path(path)
    if given.is_dir() or str(path).endswith(("/", "\\")):
        prefix = given / "model.ckpt"
    else:
        prefix = given.with_name(given.name.removesuffix(".index"))
    shards = sorted(prefix.parent.glob(f"{prefix.name}.data-?????-of-?????"))
    return [Path(f"{prefix}.index"), *(shards or [Path(f"{prefix}.data-00000-of-00001")])]


@stage("import-sid")
def import_sid(
    *,
    checkpoint: Annotated[list[Path], Argument],
    out: Output,
    settings: ImportJob,
) -> None:
    """Import SID's released TensorFlow weights as a gianet SID-Net checkpoint.

    Args:
        checkpoint: SID's checkpoint: its prefix (checkpoint/Sony/model.ckpt), the folder
            SID's download_models.py fills (checkpoint/Sony/), or its files (the .index and
            data shards, as the workflow hands them).
        out: the gianet checkpoint to write (model.pt), which evaluate and enhance accept.
    """
    from gianet.fetch.tf_checkpoint import TFCheckpointError, resolve_prefix
    from gianet.models.sid_import import write_imported_checkpoint

    try:
        prefixes = {resolve_prefix(path) for path in checkpoint}
        if len(prefixes) != 1:
            raise TFCheckpointError(
                f"{', '.join(map(str, checkpoint))}: the files of {len(prefixes)} checkpoints "
                f"({', '.join(sorted(map(str, prefixes)))}); give one checkpoint's prefix or files"
            )
        prefix = prefixes.pop()
        imported = write_imported_checkpoint(prefix, settings.camera, out)
    except TFCheckpointError as exc:
        raise TFCheckpointError(f"{exc}. {WHERE_SID_WEIGHTS_ARE}") from None
    width = imported["arch_args"]["base_channels"]
    print(
        f"{out}: SID-Net of width {width} for {settings.camera}, from {prefix} "
        f"({imported['provenance']['variables']} variables)"
    )

"""The stages that train and evaluate a variant, and fetch the metrics' weights."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from pydantic import model_validator

from gianet.data.lists import Selection
from gianet.settings.sections import CameraName, MetricName, Params, Runtime
from gianet.stages.declaration import Input, JobSettings, Kept, Output, stage
from gianet.training.recipe import Recipe


class TrainJob(JobSettings):
    """What one training's weights depend on: the variant's recipe for this seed and the
    validation frames its curves are measured on."""

    WILDCARDS = ("camera", "variant", "seed")
    camera: CameraName
    recipe: Recipe
    validation: Selection

    @model_validator(mode="after")
    def _crops_fit_the_loss(self) -> TrainJob:
        """MS-SSIM's smallest side holds for the recipe's crops on this camera."""
        from gianet.settings.checks import ms_ssim_crop_problem

        crops = self.recipe.crops
        key = "train.patch" if crops.kind == "fixed" else "train.multi_size_a x train.multi_size_b"
        problem = ms_ssim_crop_problem(
            self.recipe.variant, self.recipe.loss.kind, self.camera, key, crops.sides[0]
        )
        if problem:
            raise ValueError(f"{key}: {problem}")
        return self

    @classmethod
    def from_params(cls, params: Params, camera: str, variant: str, seed: int) -> TrainJob:
        from gianet.variants import get_variant

        return cls(
            camera=camera,
            recipe=Recipe.for_variant(get_variant(variant), params.train, int(seed)),
            validation=Selection(
                exposures=params.train.val_exposures[camera],
                exclude_scenes=params.sid.exclude_scenes[camera] if params.dataset == "sid" else [],
            ),
        )


class EvaluateJob(JobSettings):
    """What one evaluation's numbers depend on besides the model: the test protocol and the
    metrics."""

    WILDCARDS = ("camera", "variant", "seed")
    dataset: str
    camera: CameraName
    test: Selection
    metrics: list[MetricName]
    lpips_backbone: str
    samples: int

    @classmethod
    def from_params(cls, params: Params, camera: str, variant: str, seed: int) -> EvaluateJob:
        return cls(
            dataset=params.dataset,
            camera=camera,
            test=Selection(
                exposures=params.evaluate.test_exposures[camera],
                exclude_scenes=params.sid.exclude_scenes[camera] if params.dataset == "sid" else [],
            ),
            metrics=params.evaluate.metrics,
            lpips_backbone=params.evaluate.lpips_backbone,
            samples=params.evaluate.samples,
        )


class WeightsJob(JobSettings):
    """Which pretrained weights the configured metrics need."""

    metrics: list[MetricName]
    lpips_backbone: str

    @classmethod
    def from_params(cls, params: Params) -> WeightsJob:
        return cls(metrics=params.evaluate.metrics, lpips_backbone=params.evaluate.lpips_backbone)


def _ready_cache(
    manifest: Path, record: Path, splits: tuple[str, ...], pairs_of, runtime: Runtime
) -> dict:
    """The cache's manifest, after checking that it holds the ``splits`` the job reads, that it
    was packed from ``record`` and that every file the pairs ``pairs_of(manifest)`` returns
    read is the verified one, damaged arrays rebuilt (:func:`gianet.data.verify.prepare_cache`)."""
    from gianet.data.manifest import REBUILD, CacheError, load_manifest
    from gianet.data.verify import prepare_cache
    from gianet.fetch.checksums import sha256_of

    loaded = load_manifest(manifest.parent, splits)
    if loaded.get("record_sha256") != sha256_of(record):
        raise CacheError(
            f"{manifest}: packed from another version of the dataset than {record}; {REBUILD}"
        )
    for line in prepare_cache(
        manifest.parent, loaded, record, pairs_of(loaded), progress=runtime.progress
    ):
        print(line, flush=True)
    return loaded


#: How long a training waits for an earlier run of the same model that is still saving its
#: state (a cancelled SLURM job gets SIGTERM, and SIGKILL only KillWait seconds later:
#: slurm.conf's KillWait, 30 s by default; the largest state saves in under a second,
#: benchmarks/README.md), before it refuses naming that run.
ENDING_RUN_WAIT = 300


@stage("train", wait_for_outputs=ENDING_RUN_WAIT)
def train(
    *,
    manifest: Input,
    record: Input,
    model: Output,
    curves: Output,
    settings: TrainJob,
    runtime: Runtime,
) -> None:
    """Train one variant on one camera.

    Args:
        manifest: the packed cache's index (``manifest.json``); damaged or missing arrays
            the training reads are rebuilt first.
        record: the dataset record the cache was packed from.
        model: the final weights to write (``model.pt``); a resumable state is kept beside it.
        curves: dvclive's ``metrics.json`` inside the training's log folder.
    """
    from gianet.data.dataset import PackedPairs
    from gianet.data.lists import Pair
    from gianet.errors import explain
    from gianet.jobs.history import note
    from gianet.jobs.training_run import begin_training, note_stop
    from gianet.paths import history_file, log_dir_of_curves
    from gianet.training.train import train_variant

    recipe = settings.recipe

    def used(loaded: dict) -> list[Pair]:
        train = [Pair(**p) for p in loaded["splits"]["train"]]
        return train + settings.validation.apply([Pair(**p) for p in loaded["splits"]["val"]])

    history = history_file(model)
    begin_training(history, f"training {recipe.variant} seed {recipe.seed} on {settings.camera}")
    try:
        loaded = _ready_cache(manifest, record, ("train", "val"), used, runtime)
        train_pairs = PackedPairs(manifest.parent, "train", recipe.max_input, loaded)
        validation = settings.validation
        val_pairs = PackedPairs(manifest.parent, "val", recipe.max_input, loaded, validation)
        result = train_variant(
            recipe,
            train_pairs,
            val_pairs,
            model,
            log_dir_of_curves(curves),
            camera=settings.camera,
            runtime=runtime,
            on_start=lambda where: note(history, where),
        )
    except Exception as exc:
        # Every stop a user can act on is noted (a full disk, a file-size limit ...), if the
        # history can still be written; the error itself reaches the command line unchanged.
        if explain(exc, "train") is not None:
            with contextlib.suppress(OSError):
                note_stop(history, exc)
        raise
    note(history, f"finished: {json.dumps(result.__dict__)}")
    print(json.dumps(result.__dict__))


@stage("evaluate")
def evaluate(
    *,
    model: Input,
    manifest: Input,
    record: Input,
    weights: Input,
    csv: Output,
    summary: Output,
    samples: Kept,
    settings: EvaluateJob,
    runtime: Runtime,
) -> None:
    """Evaluate one trained variant on the full test frames.

    Args:
        model: the weights written by `gianet train`.
        manifest: the packed cache's index (``manifest.json``); damaged or missing arrays
            the evaluation reads are rebuilt first.
        record: the dataset record the cache was packed from.
        weights: the status file written by `gianet fetch-weights` (in the torch cache).
        csv: the per-image metrics to write.
        summary: the means to write (JSON), naming the sample images.
        samples: the folder for the figure's sample PNGs.
    """
    from gianet.data.lists import Pair
    from gianet.evaluation.evaluate import evaluate_variant
    from gianet.fetch.weights import torch_home_of
    from gianet.jobs.interrupt import stop_raises

    loaded = _ready_cache(
        manifest,
        record,
        ("test",),
        lambda m: settings.test.apply([Pair(**p) for p in m["splits"]["test"]]),
        runtime,
    )
    with stop_raises(f"evaluating {model}"):
        result = evaluate_variant(
            model,
            manifest.parent,
            loaded,
            settings.test,
            csv_path=csv,
            summary_path=summary,
            samples_dir=samples,
            dataset=settings.dataset,
            metrics=settings.metrics,
            lpips_backbone=settings.lpips_backbone,
            samples=settings.samples,
            torch_home=torch_home_of(weights),
            runtime=runtime,
        )
    print(json.dumps(result))


@stage("fetch-weights")
def fetch_weights(*, status: Output, checksums: Kept, settings: WeightsJob) -> None:
    """Fetch the LPIPS backbone's and PieAPP's weights once into the project's torch cache.

    Args:
        status: the status file to write, in the torch cache (``status.json``).
        checksums: the file of recorded sha256s of the weights (``evaluate.weights_checksums``).
    """
    import sys

    from gianet.errors import GianetError
    from gianet.fetch.weights import fetch_for_metrics, write_status

    try:
        fetch_for_metrics(
            status.parent,
            settings.metrics,
            lpips_backbone=settings.lpips_backbone,
            checksum_file=checksums,
        )
    except GianetError as exc:
        # Offline is a normal state: evaluation then reports these metrics as unavailable.
        print(f"gianet fetch-weights: could not fetch every weight file:\n{exc}", file=sys.stderr)
    write_status(status)

"""params.yaml as typed, validated objects: one model per section.

The models declare each setting's type and bounds, never its value: every value comes from
the configuration (params.yaml, with ``--configfile`` files merged over it), which is the one
home of every default; params.yaml's comments name each setting's source (the paper's section
or SID's code). Validation is strict: a string is not a number, ``2.0`` is not an integer and
``yes`` is not a boolean; an unknown key is an error. The JSON schema (``gianet schema``) is
generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gianet.domain.cameras import CAMERA_NAMES
from gianet.domain.metrics import METRIC_NAMES

CameraName = Literal[CAMERA_NAMES]  # type: ignore[valid-type]
MetricName = Literal[METRIC_NAMES]  # type: ignore[valid-type]
#: Which short exposures of a scene a split uses: each scene's ``_00`` shots (SID's
#: test_Sony.py) or every one (the paper, section 4.3).
Exposures = Literal["first", "all"]
Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
Path = Annotated[str, Field(min_length=1)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


class Section(BaseModel):
    """A params.yaml section: strict, closed (unknown keys are errors) and immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Paths(Section):
    """Where results go, relative to the working directory."""

    data: Path
    cache: Path
    models: Path
    results: Path
    report: Path
    weights: Path


class Scenes(Section):
    train: Annotated[int, Field(ge=1, le=9999)]
    val: Annotated[int, Field(ge=1, le=9999)]
    test: Annotated[int, Field(ge=1, le=9999)]


class Synth(Section):
    """The embedded sid-synth dataset (docs/reference.md, sid-synth)."""

    seed: NonNegative
    height: Annotated[int, Field(ge=96, le=8192)]
    width: Annotated[int, Field(ge=96, le=8192)]
    scenes: Scenes
    shorts_per_scene: Annotated[int, Field(ge=1, le=100)]
    ratios: Annotated[list[Literal[100, 250, 300]], Field(min_length=1)]


class Archive(Section):
    """One camera's SID archive: where it is downloaded from, or the copy one has."""

    url: Path
    path: Path | None
    sha256: Sha256 | None


class Sid(Section):
    """The real See-in-the-Dark dataset (Chen et al., CVPR 2018)."""

    root: Path | None
    archives: dict[CameraName, Archive]
    checksums: Path
    exclude_scenes: dict[CameraName, list[Annotated[int, Field(ge=0, le=99999)]]]
    levels: Literal["sid", "file"]
    #: SID's released TensorFlow checkpoint per camera (its prefix, or the folder SID's
    #: download_models.py fills), imported and evaluated beside the runs; null: none.
    released_models: dict[CameraName, Path | None]


class Train(Section):
    """What a training's weights depend on (paper, section 4.2; SID's train_Sony.py)."""

    seeds: Annotated[list[NonNegative], Field(min_length=1, max_length=100)]
    width: Annotated[int, Field(ge=4, le=256)]
    epochs: Annotated[int, Field(ge=1, le=1_000_000)]
    lr: Annotated[float, Field(gt=0, le=1)]
    lr_decay_epoch: NonNegative
    lr_decay_factor: Annotated[float, Field(gt=0, le=1)]
    batch_size: Annotated[int, Field(ge=1, le=1024)]
    patch: Annotated[int, Field(ge=16, le=8192)]
    multi_size_a: Annotated[int, Field(ge=1, le=1024)]
    multi_size_b: Annotated[list[Positive], Field(min_length=2, max_length=2)]
    loss_gamma: Annotated[float, Field(ge=0, le=1)]
    loss_gamma_term: Literal["l1", "ms-ssim"]
    msssim_exponents: Literal["paper", "wang"]
    max_input: Annotated[float, Field(gt=0, le=1000)]
    shots: Literal["first", "all"]
    flips: Literal["sid", "sid-before-fix"]
    init: Literal["sid", "pytorch"]
    #: How SE-UNet, DnCNN and RIDNet train: sid = as SID-Net (L1, fixed crops) | gia-net =
    #: as GIA-Net (the joint loss, multi-size crops). docs/readings.md.
    baseline_recipe: Literal["sid", "gia-net"]
    extra_convs_kernel: Literal[1, 3]
    precision: Literal["float32", "tf32", "bf16"]
    val_exposures: dict[CameraName, Exposures]


class Runtime(Section):
    """How jobs run, never what they compute: no rule passes these as params."""

    threads: Annotated[int, Field(ge=1, le=1024)]
    loader_workers: Annotated[int, Field(ge=0, le=64)]
    device: Literal["auto", "cuda", "cpu"]
    channels_last: bool
    cuda_graphs: bool
    compile: bool
    checkpoint_every: NonNegative
    val_every: NonNegative
    progress: bool
    download_timeout: Annotated[float, Field(gt=0, le=86400)]
    download_retries: Annotated[int, Field(ge=0, le=100)]


class Pipeline(Section):
    """How DVC runs the workflow (dvc.yaml's one stage)."""

    profile: Path
    configfile: Path
    record_in_dvc: bool


class Evaluate(Section):
    """The test protocol and the metrics (paper, section 4.3)."""

    samples: Annotated[int, Field(ge=0, le=10_000)]
    test_exposures: dict[CameraName, Exposures]
    metrics: Annotated[list[MetricName], Field(min_length=1)]
    lpips_backbone: Literal["alex", "vgg"]
    weights_checksums: Path


Fraction = Annotated[float, Field(ge=0, le=1)]
#: A crop's top-left corner, (top, left) as fractions of the frame.
Corner = Annotated[list[Fraction], Field(min_length=2, max_length=2)]


class Report(Section):
    """What the report shows and how its statistics are drawn."""

    figure_variants: Annotated[list[str], Field(min_length=1)]
    first_shot_tables: bool
    figure_images: list[str]
    figure_crops: dict[
        str,
        Annotated[
            list[Annotated[list[Fraction], Field(min_length=2, max_length=2)]],
            Field(min_length=1, max_length=4),
        ],
    ]
    crop_size: Annotated[float, Field(gt=0, le=1)]
    crops_per_image: Annotated[int, Field(ge=1, le=4)]
    bootstrap_resamples: Annotated[int, Field(ge=100, le=1_000_000)]
    bootstrap_seed: NonNegative
    confidence: Annotated[float, Field(gt=0.5, lt=1)]


class Params(Section):
    """The whole configuration, as params.yaml lays it out."""

    dataset: Literal["sid-synth", "sid"]
    cameras: Annotated[list[CameraName], Field(min_length=1)]
    variants: Annotated[list[str], Field(min_length=1)]
    paths: Paths
    synth: Synth
    sid: Sid
    train: Train
    runtime: Runtime
    pipeline: Pipeline
    evaluate: Evaluate
    report: Report

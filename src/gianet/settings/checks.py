"""What the section models cannot say alone: relations between settings.

Each check returns the problems it finds as ``(key, message)`` pairs; the caller words them
with the configuration's source (:func:`gianet.settings.load.validate_params`). All run
when a configuration is read, so nothing fails after hours of packing and training.
"""

from __future__ import annotations

from collections.abc import Iterator

from gianet.archive_names import archive_suffix_of
from gianet.domain.cameras import CAMERAS
from gianet.domain.metrics import MS_SSIM_MIN_SIDE
from gianet.settings.sections import Params, Synth, Train
from gianet.variants import VARIANTS, Variant, training_of

Problem = tuple[str, str]


def problems(params: Params) -> Iterator[Problem]:
    """Every relation ``params`` breaks, in the order a reader of params.yaml meets them (the
    checks of what the lists name come first: the others rely on them)."""
    named = [*_unique(params), *_declared_variants(params), *_per_camera_maps(params)]
    if named:
        yield from named
        return
    yield from _archives(params)
    if params.dataset == "sid-synth":
        for camera in params.cameras:
            yield from synth_frame_problems(params.synth, camera)
    yield from _first_shot_tables(params)
    for camera in params.cameras:
        frame = packed_frame(params, camera)
        for name in params.variants:
            yield from crop_problems(params.train, VARIANTS[name], camera, frame, params.dataset)


def _unique(params: Params) -> Iterator[Problem]:
    for key, values in (
        ("cameras", params.cameras),
        ("variants", params.variants),
        ("evaluate.metrics", params.evaluate.metrics),
        ("report.figure_variants", params.report.figure_variants),
        ("train.seeds", params.train.seeds),
    ):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            yield key, f"lists {', '.join(repeated)} more than once; name each once"


def _declared_variants(params: Params) -> Iterator[Problem]:
    for key, names in (
        ("variants", params.variants),
        ("report.figure_variants", params.report.figure_variants),
    ):
        unknown = [name for name in names if name not in VARIANTS]
        if unknown:
            yield (
                key,
                (
                    f"unknown variant(s) {', '.join(unknown)}; declared in gianet/variants.py "
                    f"(`gianet variants`): {', '.join(VARIANTS)}"
                ),
            )
    untrained = [name for name in params.report.figure_variants if name not in params.variants]
    if untrained and not any(name not in VARIANTS for name in params.report.figure_variants):
        yield (
            "report.figure_variants",
            (
                f"{', '.join(untrained)} not in variants; the figure can only show variants that "
                "are trained"
            ),
        )


def _per_camera_maps(params: Params) -> Iterator[Problem]:
    maps = {
        "sid.archives": params.sid.archives,
        "sid.exclude_scenes": params.sid.exclude_scenes,
        "sid.released_models": params.sid.released_models,
        "train.val_exposures": params.train.val_exposures,
        "evaluate.test_exposures": params.evaluate.test_exposures,
    }
    for key, mapping in maps.items():
        missing = [camera for camera in params.cameras if camera not in mapping]
        if missing:
            yield key, f"has no entry for {', '.join(missing)}; add `{missing[0]}: ...` there"


def _archives(params: Params) -> Iterator[Problem]:
    for camera, archive in params.sid.archives.items():
        key = f"sid.archives.{camera}"
        scheme = archive.url.split("://", 1)[0].lower() if "://" in archive.url else ""
        if scheme not in ("http", "https"):
            local = " (a local file goes in path, not in the URL)" if scheme == "file" else ""
            yield (
                f"{key}.url",
                (
                    f"{archive.url!r} is not an http(s) URL and is not downloaded{local}; give the "
                    f"archive's http(s) URL, or set {key}.path to an archive you have"
                ),
            )
        elif not archive.path and archive_suffix_of(archive.url) is None:
            yield (
                f"{key}.url",
                (
                    f"{archive.url!r} names no .zip, .tar.gz, .tgz or .tar archive; give the "
                    f"archive's URL or set {key}.path to an archive you have"
                ),
            )


def _first_shot_tables(params: Params) -> Iterator[Problem]:
    """SID's ``_00`` tables are computed from per-image results, so at least one camera must
    be tested on all its exposures (with ``first`` everywhere, Tables 1-3 already are them)."""
    if not params.report.first_shot_tables:
        return
    tested = params.evaluate.test_exposures
    if not any(tested.get(camera) == "all" for camera in params.cameras):
        yield (
            "report.first_shot_tables",
            (
                f"true needs evaluate.test_exposures all for at least one of "
                f"{', '.join(params.cameras)} (tested on first only, Tables 1-3 already follow "
                "SID's _00 protocol); set it to false or test all exposures"
            ),
        )


def synth_frame_problems(synth: Synth, camera: str) -> Iterator[Problem]:
    """sid-synth's frame must tile the camera's colour-filter pattern."""
    period = CAMERAS[camera].cfa.period
    for key in ("height", "width"):
        size = getattr(synth, key)
        if size % period:
            yield (
                f"synth.{key}",
                (
                    f"{size} is not a multiple of {camera}'s colour-filter period {period}; use "
                    f"{max(period, size - size % period)}"
                ),
            )


def packed_frame(params: Params, camera: str) -> tuple[int, int]:
    """(height, width) in packed pixels of the camera's frames in the configured dataset."""
    if params.dataset == "sid":
        return CAMERAS[camera].sid_packed_frame
    upscale = CAMERAS[camera].upscale
    return params.synth.height // upscale, params.synth.width // upscale


def crop_sides(train: Train, variant: Variant) -> tuple[str, int, int]:
    """The settings key of a variant's training crops and their smallest and largest side
    in packed pixels."""
    if training_of(variant, train.baseline_recipe)[1] == "fixed":
        return "train.patch", train.patch, train.patch
    low, high = train.multi_size_b
    return (
        "train.multi_size_a x train.multi_size_b",
        train.multi_size_a * low,
        train.multi_size_a * high,
    )


def crop_problems(
    train: Train, variant: Variant, camera: str, frame: tuple[int, int] | None, dataset: str
) -> Iterator[Problem]:
    """One variant's training crops on one camera: ordered bounds, no larger than the frames'
    shorter side (``frame``, packed pixels; ``None``: not known here), and at least MS-SSIM's
    smallest side where the variant's loss uses it."""
    low, high = train.multi_size_b
    loss, crops = training_of(variant, train.baseline_recipe)
    if crops == "multi-size" and low > high:
        yield "train.multi_size_b", f"[{low}, {high}] must be [low, high]"
        return
    key, smallest, largest = crop_sides(train, variant)
    if frame is not None and largest > min(frame):
        frames = (
            f"{camera}'s SID frames ({frame[0]} x {frame[1]} packed pixels)"
            if dataset == "sid"
            else f"{camera}'s sid-synth frames ({frame[0]} x {frame[1]} packed pixels, "
            "synth.height and synth.width divided by the packing)"
        )
        yield (
            key,
            (
                f"variant {variant.name} crops squares of up to {largest} packed pixels, larger "
                f"than {frames}; make the crops smaller or the frames larger"
            ),
        )
    problem = ms_ssim_crop_problem(variant.name, loss, camera, key, smallest)
    if problem:
        yield key, problem


def ms_ssim_crop_problem(
    variant: str, loss: str, camera: str, key: str, smallest: int
) -> str | None:
    """Why crops whose smallest side is ``smallest`` packed pixels are too small for MS-SSIM
    on ``camera``'s outputs (when ``loss`` uses it), naming the settings ``key``; else None."""
    needed = -(-MS_SSIM_MIN_SIDE // CAMERAS[camera].upscale)
    if loss != "l1+ms-ssim" or smallest >= needed:
        return None
    return (
        f"variant {variant} trains with MS-SSIM, which needs outputs of at least "
        f"{MS_SSIM_MIN_SIDE} px, so {camera} crops of at least {needed} packed pixels; its "
        f"smallest crop is {smallest}. Raise {key} or drop {variant}"
    )

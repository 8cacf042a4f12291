"""The ``gianet`` command line: one subcommand per pipeline stage, plus ``enhance``.

Every stage takes what it reads, what it writes and the settings its results depend on as
arguments, and reads no configuration file: a Snakemake rule hands a job its ``{input}``,
``{output}`` and ``params``, so the job does exactly what the rule says, in any folder. Large
settings travel as one whole params.yaml section in JSON (``--settings``) and the runtime
section as ``--runtime``; both are validated against the same schema as params.yaml.

Each stage is declared once, in :data:`STAGES`: its name, help, arguments and handler.
:func:`main` is the one error boundary: every error a user can fix (gianet's own, the
operating system's such as a full disk or a permission, the device's such as a missing GPU or
its memory; see :func:`gianet.errors.explain`) is printed as one line naming the file or key
and the fix, without a traceback, and exits with status 2; ``gianet --debug STAGE ...`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gianet import paths
from gianet.errors import GianetError, explain
from gianet.variants import EXTRA_CONVS_KERNELS

METRIC_NAMES = ("psnr", "ssim", "lpips", "pieapp")


class UsageError(GianetError, ValueError):
    """Arguments that argparse accepts but that do not fit together."""


@dataclass(frozen=True)
class Arg:
    """One argument of a stage: argparse's flags and keyword arguments."""

    flags: tuple[str, ...]
    options: dict

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.flags, **self.options)


def arg(*flags: str, **options) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Stage:
    """A subcommand: ``gianet <name> ARGS`` calls ``handler(args)``.

    ``outputs`` names the arguments (argparse destinations) that are files the stage writes;
    :func:`main` checks that each can be written before the stage starts its work.
    """

    name: str
    help: str
    arguments: tuple[Arg, ...]
    handler: Callable[[argparse.Namespace], object]
    outputs: tuple[str, ...] = ()


# Arguments several stages share.
CAMERA = arg("--camera", required=True, choices=paths.CAMERAS)
VARIANT = arg("--variant", required=True, help="a variant declared in gianet/variants.py")
LISTS = arg(
    "--lists",
    nargs=3,
    required=True,
    metavar=("TRAIN", "VAL", "TEST"),
    help="the camera's split lists, in the dataset root (SID's names)",
)
MANIFEST = arg("--manifest", required=True, help="the packed cache's manifest.json")
RUNTIME = arg(
    "--runtime",
    default="{}",
    help="JSON of params.yaml's runtime section (threads, device, cadence...; never results)",
)
THREADS = arg("--threads", type=int, help="CPU threads (default: runtime.threads)")
LPIPS_BACKBONE = arg(
    "--lpips-backbone",
    choices=("alex", "vgg"),
    default="alex",
    help="LPIPS's backbone (evaluate.lpips_backbone): alex | vgg (the paper's)",
)


def _settings(section: str) -> Arg:
    return arg(
        "--settings",
        required=True,
        help=f"JSON of params.yaml's {section} section (train: less the variant's unused keys)",
    )


def _runtime(args: argparse.Namespace):
    from gianet.jobs.runtime import DEFAULT_RUNTIME, Runtime

    threads = getattr(args, "threads", None)
    if args.runtime == "{}":
        return DEFAULT_RUNTIME if threads is None else Runtime(threads=threads)
    return Runtime.from_json(args.runtime, threads=threads)


def _dataset_root(lists: list[str], camera: str) -> Path:
    """The folder holding the camera's three split lists (checked against SID's names)."""
    roots = {Path(path).parent for path in lists}
    expected = [paths.list_name(camera, split) for split in paths.SPLITS]
    names = [Path(path).name for path in lists]
    if len(roots) != 1 or names != expected:
        raise UsageError(
            f"--lists: expected {', '.join(expected)} in one folder, got {', '.join(lists)}"
        )
    return roots.pop()


def _synth(args: argparse.Namespace) -> None:
    from gianet.config import parse_section
    from gianet.synth.generate import generate_dataset

    synth = parse_section(args.settings, "synth")
    generate_dataset(
        _dataset_root(args.lists, args.camera),
        camera=args.camera,
        scenes=synth["scenes"],
        height=synth["height"],
        width=synth["width"],
        ratios=tuple(synth["ratios"]),
        shorts_per_scene=synth["shorts_per_scene"],
        seed=synth["seed"],
    )


def _sid_download(args: argparse.Namespace) -> None:
    from gianet.fetch.download import download

    runtime = _runtime(args)
    result = download(
        args.url,
        Path(args.out),
        expected_sha256=args.sha256 or None,
        checksum_file=Path(args.checksums),
        retries=runtime.download_retries,
        timeout=runtime.download_timeout,
        progress=runtime.progress,
    )
    print(result.path)


def _sid_unpack(args: argparse.Namespace) -> None:
    from gianet.fetch.sid import install_split_lists, unpack_archive

    root = _dataset_root(args.lists, args.camera)
    if args.archive:
        unpack_archive(Path(args.archive), root, args.camera)
    install_split_lists(root, args.camera)


def _pack(args: argparse.Namespace) -> None:
    from gianet.data.cache import build_cache
    from gianet.data.lists import parse_list, select_test_pairs

    manifest = _manifest_path(args.manifest)
    root = _dataset_root(args.lists, args.camera)
    splits = {
        split: parse_list(path, root) for split, path in zip(paths.SPLITS, args.lists, strict=True)
    }
    # Validation follows the test protocol (SID's own code never validates).
    for split in ("val", "test"):
        splits[split] = select_test_pairs(splits[split], args.exclude_scenes, args.test_exposures)
    build_cache(
        root,
        splits,
        manifest.parent,
        workers=args.workers,
        full_check=args.verify == "full",
        levels=args.levels,
        protocol={
            "test_exposures": args.test_exposures,
            "exclude_scenes": sorted(set(args.exclude_scenes)),
        },
    )


def _manifest_path(manifest: str) -> Path:
    path = Path(manifest)
    if path.name != paths.MANIFEST:
        raise UsageError(f"--manifest: the cache's index is named {paths.MANIFEST}: {manifest}")
    return path


def _train(args: argparse.Namespace) -> None:
    from gianet.config import check_variant_crops, parse_section
    from gianet.jobs.history import note
    from gianet.jobs.training_run import begin_training, note_stop
    from gianet.training.train import train_variant
    from gianet.variants import get_variant, unused_train_settings

    variant = get_variant(args.variant)
    settings = parse_section(args.settings, "train", optional=unused_train_settings(variant))
    check_variant_crops(settings, variant.name, args.camera, "--settings (train section)")
    runtime = _runtime(args)
    history = paths.history_file(args.model)
    begin_training(history, f"training {args.variant} on {args.camera}")
    try:
        result = train_variant(
            variant,
            _manifest_path(args.manifest).parent,
            Path(args.model),
            paths.log_dir_of_curves(args.curves),
            settings,
            camera=args.camera,
            runtime=runtime,
            on_start=lambda where: note(history, where),
        )
    except GianetError as exc:
        note_stop(history, exc)
        raise
    note(history, f"finished: {json.dumps(result.__dict__)}")
    print(json.dumps(result.__dict__))


def _evaluate(args: argparse.Namespace) -> None:
    from gianet.evaluation.evaluate import evaluate_variant
    from gianet.fetch.weights import torch_home_of
    from gianet.jobs.interrupt import stop_raises

    if not (math.isfinite(args.max_input) and args.max_input > 0):
        raise UsageError(
            f"--max-input must be a positive number (train.max_input), got {args.max_input}"
        )
    runtime = _runtime(args)
    with stop_raises(f"evaluating {args.model}"):
        summary = evaluate_variant(
            Path(args.model),
            _manifest_path(args.manifest).parent,
            csv_path=Path(args.csv),
            summary_path=Path(args.summary),
            samples_dir=Path(args.samples_dir),
            dataset=args.dataset,
            metrics=args.metrics,
            torch_home=torch_home_of(Path(args.weights)),
            samples=args.samples,
            max_input=args.max_input,
            lpips_backbone=args.lpips_backbone,
            runtime=runtime,
        )
    print(json.dumps(summary))


def _fetch_weights(args: argparse.Namespace) -> None:
    from gianet.fetch.weights import fetch_for_metrics, write_status

    status = Path(args.status)
    torch_home = status.parent
    try:
        fetch_for_metrics(
            torch_home,
            args.metrics,
            lpips_backbone=args.lpips_backbone,
            checksum_file=Path(args.checksums),
        )
    except GianetError as exc:
        # Offline is a normal state: evaluation then reports these metrics as unavailable.
        print(f"gianet fetch-weights: could not fetch every weight file:\n{exc}", file=sys.stderr)
    write_status(status)


def _cost(args: argparse.Namespace) -> None:
    from gianet.report.costs import write_costs

    write_costs(list(paths.CAMERAS), Path(args.out), args.extra_convs_kernel)


def _report(args: argparse.Namespace) -> None:
    from gianet.report.build import build_report, runs_in_order

    for name, files in (("figures", args.figures), ("curve-figures", args.curve_figures)):
        if len(files) != len(args.cameras):
            raise UsageError(f"--{name}: one PNG per camera ({', '.join(args.cameras)})")
    runs = runs_in_order(
        args.cameras,
        args.variants,
        [Path(p) for p in args.summaries],
        [Path(p) for p in args.curves],
        [Path(p) for p in args.metrics_csvs] if args.metrics_csvs else None,
    )
    build_report(
        runs,
        dataset=args.dataset,
        figure_variants=args.figure_variants,
        costs=Path(args.costs),
        tables=Path(args.tables),
        figures=dict(zip(args.cameras, map(Path, args.figures), strict=True)),
        curve_figures=dict(zip(args.cameras, map(Path, args.curve_figures), strict=True)),
        headline=Path(args.headline),
        curve_tables={"loss": Path(args.curve_tables[0]), "psnr": Path(args.curve_tables[1])},
        tables_html=Path(args.tables_html),
        first_shot_tables=args.first_shot_tables,
    )


def _check_params(args: argparse.Namespace) -> None:
    from gianet.config import deep_merge, load_params, read_yaml

    override: dict = {}
    for path in args.configfile:
        override = deep_merge(override, read_yaml(Path(path)))
    load_params(args.params, override or None)
    merged = f" with {', '.join(args.configfile)} merged over it" if args.configfile else ""
    print(f"{args.params}: valid{merged}")


def _variants(args: argparse.Namespace) -> None:
    from gianet.variants import VARIANTS

    for variant in VARIANTS.values():
        rows = ", ".join(f"T{r.table}:{r.model}" for r in variant.paper)
        print(
            f"{variant.name:22s} {variant.label:26s} {variant.arch:7s} "
            f"{variant.loss:11s} {variant.crops:10s} {rows}"
        )


def _enhance(args: argparse.Namespace) -> None:
    from gianet.inference.enhance import enhance_file

    out = enhance_file(
        Path(args.raw),
        Path(args.checkpoint),
        Path(args.out),
        ratio=args.ratio,
        target_exposure=args.target_exposure,
        max_input=args.max_input,
        tile=args.tile,
        device=args.device,
    )
    print(out)


STAGES: tuple[Stage, ...] = (
    Stage(
        "synth",
        "generate the sid-synth dataset for one camera",
        (CAMERA, LISTS, _settings("synth")),
        _synth,
        outputs=("lists",),
    ),
    Stage(
        "sid-download",
        "download one camera's SID archive (resumable, sha256-verified)",
        (
            arg("--url", required=True, help="the archive's URL (http, https or file)"),
            arg("--out", required=True, help="where the archive goes"),
            arg("--checksums", required=True, help="sha256 file: recorded once, then verified"),
            arg(
                "--sha256",
                nargs="?",
                default="",
                help="the archive's known sha256 (pinned in params.yaml); none (or no value): "
                "the one recorded in --checksums",
            ),
            RUNTIME,
        ),
        _sid_download,
        outputs=("out", "checksums"),
    ),
    Stage(
        "sid-unpack",
        "extract one camera's SID archive safely and write its split lists",
        (
            CAMERA,
            LISTS,
            arg(
                "--archive",
                nargs="?",
                help="the camera's archive; none (or no value) when the data is already there",
            ),
        ),
        _sid_unpack,
        outputs=("lists",),
    ),
    Stage(
        "pack",
        "decode a dataset's raws once into the packed cache",
        (
            CAMERA,
            LISTS,
            MANIFEST,
            arg(
                "--exclude-scenes",
                type=int,
                nargs="*",
                default=[],
                help="scene ids left out of validation and test (SID: misaligned scenes)",
            ),
            arg(
                "--test-exposures",
                choices=("first", "all"),
                default="first",
                help="first: each scene's _00 shots (SID's test code) | all",
            ),
            arg(
                "--levels",
                choices=("sid", "file"),
                default="file",
                help="black and white levels: sid = SID's constants (Sony 512/16383, Fuji "
                "1024/16383) | file = each raw's own",
            ),
            arg("--workers", type=int, default=1, help="decoding processes"),
            arg(
                "--verify",
                choices=("fast", "full"),
                default="fast",
                help="how cached arrays are checked before reuse: fast (size, header and "
                "sampled blocks) or full (the sha256 of every byte); a bad one is rebuilt",
            ),
        ),
        _pack,
        outputs=("manifest",),
    ),
    Stage(
        "train",
        "train one variant on one camera",
        (
            CAMERA,
            VARIANT,
            MANIFEST,
            arg("--model", required=True, help="final weights to write (model.pt)"),
            arg("--curves", required=True, help="dvclive's metrics.json in the log folder"),
            _settings("train"),
            RUNTIME,
            THREADS,
        ),
        _train,
        outputs=("model", "curves"),
    ),
    Stage(
        "evaluate",
        "evaluate one trained variant on the full test frames",
        (
            arg("--model", required=True, help="weights written by `gianet train`"),
            MANIFEST,
            arg("--weights", required=True, help="status.json written by `gianet fetch-weights`"),
            arg("--csv", required=True, help="per-image metrics to write"),
            arg("--summary", required=True, help="means to write (JSON)"),
            arg("--samples-dir", required=True, help="folder for the figure's sample PNGs"),
            arg("--dataset", required=True, choices=("sid-synth", "sid")),
            arg("--metrics", nargs="+", choices=METRIC_NAMES, default=["psnr", "ssim"]),
            LPIPS_BACKBONE,
            arg("--samples", type=int, default=2, help="test frames saved as PNG"),
            arg("--max-input", type=float, default=1.0, help="clip of the amplified input"),
            RUNTIME,
            THREADS,
        ),
        _evaluate,
        outputs=("csv", "summary"),
    ),
    Stage(
        "fetch-weights",
        "fetch the LPIPS backbone's and PieAPP's weights once into the project's torch cache",
        (
            arg("--status", required=True, help="status.json to write, in the torch cache"),
            arg("--metrics", nargs="+", choices=METRIC_NAMES, required=True),
            LPIPS_BACKBONE,
            arg("--checksums", required=True, help="sha256 file: recorded once, then verified"),
        ),
        _fetch_weights,
        outputs=("status", "checksums"),
    ),
    Stage(
        "cost",
        "parameters and FLOPs of every variant at full Sony and Fuji frames (Table 4)",
        (
            arg("--out", required=True, help="JSON file to write"),
            arg(
                "--extra-convs-kernel",
                type=int,
                choices=EXTRA_CONVS_KERNELS,
                default=1,
                help="kernel of Table 3 model 2's added convolutions (train.extra_convs_kernel)",
            ),
        ),
        _cost,
        outputs=("out",),
    ),
    Stage(
        "report",
        "LaTeX tables, figure grids and curves beside the paper's numbers",
        (
            arg("--dataset", required=True, choices=("sid-synth", "sid")),
            arg("--cameras", nargs="+", required=True, choices=paths.CAMERAS),
            arg("--variants", nargs="+", required=True),
            arg("--figure-variants", nargs="+", required=True),
            arg("--summaries", nargs="+", required=True, help="camera-major, as expand()"),
            arg("--metrics-csvs", nargs="+", help="per-image results (metrics.csv), same order"),
            arg(
                "--first-shot-tables",
                action="store_true",
                help="also Tables 1-3 under SID's _00 protocol, from --metrics-csvs",
            ),
            arg("--curves", nargs="+", required=True, help="dvclive metrics.json, same order"),
            arg("--costs", required=True, help="JSON written by `gianet cost`"),
            arg("--tables", required=True, help="tables.tex to write (+ one file per table)"),
            arg("--tables-html", required=True, help="the same tables rendered as HTML"),
            arg("--figures", nargs="+", required=True, help="figure grid PNG per camera"),
            arg("--curve-figures", nargs="+", required=True, help="curves PNG per camera"),
            arg("--headline", required=True, help="DVC metrics JSON to write"),
            arg(
                "--curve-tables",
                nargs=2,
                required=True,
                metavar=("LOSS", "PSNR"),
                help="TSVs of every run's training loss and validation PSNR (DVC plots)",
            ),
        ),
        _report,
        outputs=(
            "tables",
            "tables_html",
            "figures",
            "curve_figures",
            "headline",
            "curve_tables",
        ),
    ),
    Stage(
        "check-params",
        "validate a params file as the workflow does (schema and every constraint)",
        (
            arg("params", help="the params file, e.g. params.yaml"),
            arg(
                "--configfile",
                nargs="*",
                default=[],
                help="files merged over it, as snakemake --configfile",
            ),
        ),
        _check_params,
    ),
    Stage("variants", "list the declared variants", (), _variants),
    Stage(
        "enhance",
        "enhance one's own raw file with a trained checkpoint into a 16-bit PNG/TIFF",
        (
            arg("raw", help="raw file (ARW, RAF, DNG, KDC ... anything rawpy reads)"),
            arg("--checkpoint", required=True, help="model trained for the file's CFA"),
            arg("--out", required=True, help="output image, .png or .tif/.tiff (16-bit)"),
            arg("--ratio", type=float, help="amplification, e.g. 100"),
            arg(
                "--target-exposure",
                type=float,
                metavar="SECONDS",
                help="amplify to this exposure time; ratio = SECONDS / the file's exposure time",
            ),
            arg(
                "--tile",
                type=int,
                help="run windows of this many packed pixels (multiple of 16, at least 288) to "
                "save memory; GIA's global pooling then sees one window at a time (default: "
                "whole frame)",
            ),
            arg(
                "--max-input",
                type=float,
                default=1.0,
                help="clip of the amplified input (training's)",
            ),
            arg("--device", help="torch device (default: cuda if available, else cpu)"),
        ),
        _enhance,
        outputs=("out",),
    ),
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gianet", description=__doc__.splitlines()[0])
    top.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    commands = top.add_subparsers(dest="stage", required=True)
    for stage in STAGES:
        sub = commands.add_parser(stage.name, help=stage.help, description=stage.help)
        for argument in stage.arguments:
            argument.add_to(sub)
        sub.set_defaults(handler=stage.handler, outputs=stage.outputs)
    return top


def _say(message: str) -> None:
    """One message on stderr, even when the reader of our output has gone."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> None:
    """Check the stage's output paths, then run it."""
    from gianet.atomic import check_output_path

    for name in args.outputs:
        value = getattr(args, name)
        for path in value if isinstance(value, list) else [value]:
            if path:
                check_output_path(path)
    args.handler(args)


def main(argv: list[str] | None = None) -> int:
    """Run one stage; returns the exit status: 0; 2 for an error a user can fix; 75 when a
    stop signal interrupted it (a rerun resumes it; in a SLURM job it is requeued); 130 on
    Ctrl-C. Other exceptions are bugs and keep their traceback."""
    from gianet.jobs.interrupt import EXIT_INTERRUPTED, JobInterrupted, requeue_current_job

    args = parser().parse_args(argv)
    if args.debug:
        _run(args)
        return 0
    try:
        _run(args)
    except JobInterrupted as exc:
        _say(f"gianet {args.stage}: interrupted: {exc}")
        _say(f"gianet {args.stage}: {requeue_current_job()}")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _say(f"gianet {args.stage}: interrupted; finished files are kept")
        return 130
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        _say(f"gianet {args.stage}: error: {message}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

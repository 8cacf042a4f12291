"""The ``gianet`` command line: one subcommand per pipeline stage, plus ``enhance``.

Every stage reads params.yaml (``--params``) and accepts ``--override JSON`` merged on top;
Snakemake's rules pass the sections a job depends on that way, so a job reruns when they
change. ``enhance`` (a user's own raw file through a trained checkpoint) stands alone and
reads no configuration. Errors that a user can fix are printed as one clear message, without
a traceback, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gianet import paths
from gianet.config import load_params, parse_override
from gianet.errors import GianetError

STAGES: dict[str, str] = {
    "synth": "generate the sid-synth dataset for one camera",
    "sid-download": "download one camera's SID archive (resumable, sha256-verified)",
    "sid-unpack": "extract one camera's SID archive safely and write its split lists",
    "pack": "decode a dataset's raws once into the packed cache",
    "train": "train one variant on one camera",
    "evaluate": "evaluate one trained variant on the full test frames",
    "fetch-weights": "fetch the LPIPS and PieAPP weights once into the project's torch cache",
    "cost": "parameters and FLOPs of every variant at full Sony and Fuji frames (Table 4)",
    "report": "LaTeX tables and figure grids beside the paper's numbers",
    "variants": "list the declared variants",
    "enhance": "enhance one's own raw file with a trained checkpoint into a 16-bit PNG/TIFF",
}
#: Subcommands that take everything from their arguments and read no params.yaml.
STANDALONE = frozenset({"enhance"})


def _synth(params: dict, args: argparse.Namespace) -> None:
    from gianet.synth.generate import generate_dataset

    synth = params["synth"]
    generate_dataset(
        paths.dataset_root(params),
        camera=args.camera,
        scenes=synth["scenes"],
        height=synth["height"],
        width=synth["width"],
        ratios=tuple(synth["ratios"]),
        shorts_per_scene=synth["shorts_per_scene"],
        seed=synth["seed"],
    )


def _sid_download(params: dict, args: argparse.Namespace) -> None:
    from gianet.data.sid import download_archive

    print(download_archive(params, args.camera))


def _sid_unpack(params: dict, args: argparse.Namespace) -> None:
    from gianet.data.sid import archive_path, install_split_lists, unpack_archive

    root = paths.dataset_root(params)
    if not params["sid"]["root"]:
        unpack_archive(archive_path(params, args.camera), root, args.camera)
    install_split_lists(root, args.camera)


def _pack(params: dict, args: argparse.Namespace) -> None:
    from gianet.data.cache import build_cache
    from gianet.data.lists import parse_list, select_test_pairs

    root = paths.dataset_root(params)
    splits = {s: parse_list(paths.list_file(params, args.camera, s), root) for s in paths.SPLITS}
    excluded = params["sid"]["exclude_scenes"] if params["dataset"] == "sid" else []
    # Validation follows the test protocol (SID's own code never validates).
    for split in ("val", "test"):
        splits[split] = select_test_pairs(
            splits[split], excluded, params["evaluate"]["test_exposures"]
        )
    build_cache(root, splits, paths.cache_dir(params, args.camera), workers=args.workers)


def _train(params: dict, args: argparse.Namespace) -> None:
    from gianet.train import train_variant
    from gianet.variants import get_variant

    result = train_variant(
        get_variant(args.variant),
        paths.cache_dir(params, args.camera),
        paths.model_file(params, args.camera, args.variant),
        paths.train_log_dir(params, args.camera, args.variant),
        params["train"],
        camera=args.camera,
    )
    print(json.dumps(result.__dict__))


def _fetch_weights(params: dict, args: argparse.Namespace) -> None:
    from gianet.perceptual import fetch_weights, weights_status

    torch_home = Path(params["paths"]["weights"])
    wanted = [m for m in ("lpips", "pieapp") if m in params["evaluate"]["metrics"]]
    names = {"lpips": "alexnet", "pieapp": "pieapp"}
    try:
        fetch_weights(
            torch_home,
            [names[m] for m in wanted],
            checksum_file=Path(params["evaluate"]["weights_checksums"]),
        )
    except GianetError as exc:
        # Offline is a normal state: evaluation then reports these metrics as unavailable.
        print(f"gianet fetch-weights: could not fetch every weight file:\n{exc}", file=sys.stderr)
    status = {
        name: str(path) if path else None for name, path in weights_status(torch_home).items()
    }
    Path(args.status).parent.mkdir(parents=True, exist_ok=True)
    Path(args.status).write_text(json.dumps(status, indent=1))


def _evaluate(params: dict, args: argparse.Namespace) -> None:
    from gianet.evaluate import evaluate_variant

    summary = evaluate_variant(
        paths.model_file(params, args.camera, args.variant),
        paths.cache_dir(params, args.camera),
        paths.results_dir(params, args.camera, args.variant),
        dataset=params["dataset"],
        metrics=params["evaluate"]["metrics"],
        torch_home=params["paths"]["weights"],
        samples=params["evaluate"]["samples"],
        max_input=params["train"]["max_input"],
        threads=params["train"]["threads"],
    )
    print(json.dumps(summary))


def _cost(params: dict, args: argparse.Namespace) -> None:
    from gianet.report.costs import write_costs

    write_costs(["Sony", "Fuji"], Path(args.out))


def _report(params: dict, args: argparse.Namespace) -> None:
    from gianet.report.build import build_report

    build_report(params, Path(args.costs))


def _variants(params: dict, args: argparse.Namespace) -> None:
    from gianet.variants import VARIANTS

    for variant in VARIANTS.values():
        rows = ", ".join(f"T{r.table}:{r.model}" for r in variant.paper)
        print(
            f"{variant.name:22s} {variant.label:26s} {variant.arch:7s} "
            f"{variant.loss:11s} {variant.crops:10s} {rows}"
        )


def _enhance(params: dict, args: argparse.Namespace) -> None:
    from gianet.enhance import enhance_file

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


def _add_enhance_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("raw", help="raw file (ARW, RAF, DNG, KDC ... anything rawpy reads)")
    sub.add_argument("--checkpoint", required=True, help="model trained for the file's CFA")
    sub.add_argument("--out", required=True, help="output image, .png or .tif/.tiff (16-bit)")
    amplification = sub.add_mutually_exclusive_group()
    amplification.add_argument("--ratio", type=float, help="amplification, e.g. 100")
    amplification.add_argument(
        "--target-exposure",
        type=float,
        metavar="SECONDS",
        help="amplify to this exposure time; ratio = SECONDS / the file's exposure time",
    )
    sub.add_argument(
        "--tile",
        type=int,
        help="run windows of this many packed pixels (multiple of 16, > 192) to save memory; "
        "GIA's global pooling then sees one window at a time (default: whole frame)",
    )
    sub.add_argument(
        "--max-input", type=float, default=1.0, help="clip of the amplified input (training's)"
    )
    sub.add_argument("--device", help="torch device (default: cuda if available, else cpu)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gianet", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="stage", required=True)
    for stage, help_text in STAGES.items():
        sub = commands.add_parser(stage, help=help_text, description=help_text)
        if stage not in STANDALONE:
            sub.add_argument("--params", default="params.yaml", help="configuration file")
            sub.add_argument("--override", help="JSON object merged over the configuration")
        if stage in ("synth", "sid-download", "sid-unpack", "pack", "train", "evaluate"):
            sub.add_argument("--camera", required=True, choices=["Sony", "Fuji"])
        if stage in ("train", "evaluate"):
            sub.add_argument("--variant", required=True)
        if stage == "pack":
            sub.add_argument("--workers", type=int, default=1, help="decoding processes")
        if stage == "fetch-weights":
            sub.add_argument("--status", required=True, help="JSON file naming what is cached")
        if stage == "cost":
            sub.add_argument("--out", required=True, help="JSON file to write")
        if stage == "report":
            sub.add_argument("--costs", required=True, help="JSON written by `gianet cost`")
        if stage == "enhance":
            _add_enhance_arguments(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handlers = {
        "synth": _synth,
        "sid-download": _sid_download,
        "sid-unpack": _sid_unpack,
        "pack": _pack,
        "train": _train,
        "evaluate": _evaluate,
        "fetch-weights": _fetch_weights,
        "cost": _cost,
        "report": _report,
        "variants": _variants,
        "enhance": _enhance,
    }
    try:
        standalone = args.stage in STANDALONE
        params = {} if standalone else load_params(args.params, parse_override(args.override))
        handlers[args.stage](params, args)
    except GianetError as exc:
        print(f"gianet {args.stage}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

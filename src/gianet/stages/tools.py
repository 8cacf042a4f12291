"""Commands for people rather than the workflow: validate a configuration, print its schema,
list the variants, and enhance one's own raw file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from gianet.stages.declaration import Argument, Input, Option, Output, stage


@stage("check-params")
def check_params(
    *,
    params: Annotated[Path, Argument],
    configfile: Annotated[list[Path] | None, Option] = None,
) -> None:
    """Validate a params file as the workflow does (types, bounds and every relation).

    Args:
        params: the params file, e.g. params.yaml.
        configfile: files merged over it, in order, as snakemake --configfile.
    """
    from gianet.settings import load_params

    load_params(params, configfile or [])
    merged = f" with {', '.join(map(str, configfile))} merged over it" if configfile else ""
    print(f"{params}: valid{merged}")


@stage("schema")
def schema(*, out: Annotated[Path | None, Option] = None) -> None:
    """Print the JSON schema of params.yaml (generated from the settings' models).

    Args:
        out: write it to this file instead of printing it.
    """
    import json

    from gianet import atomic
    from gianet.settings import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        print(text, end="")
    else:
        atomic.write_text(out, text)


@stage("variants")
def variants() -> None:
    """List the declared variants: name, label, architecture, loss, crops, paper rows (a
    baseline's loss and crops marked *: train.baseline_recipe sid's, gia-net gives GIA-Net's)."""
    from gianet.variants import VARIANTS

    for variant in VARIANTS.values():
        rows = ", ".join(f"T{r.table}:{r.model}" for r in variant.paper)
        mark = "*" if variant.baseline else " "
        print(
            f"{variant.name:22s} {variant.label:26s} {variant.arch:7s} "
            f"{variant.loss + mark:12s} {variant.crops + mark:11s} {rows}"
        )


@stage("enhance")
def enhance(
    *,
    raw: Annotated[Path, Argument],
    checkpoint: Input,
    out: Output,
    ratio: Annotated[float | None, Option] = None,
    target_exposure: Annotated[float | None, Option] = None,
    tile: Annotated[int | None, Option] = None,
    device: Annotated[str | None, Option] = None,
) -> None:
    """Enhance one's own raw file with a trained checkpoint into a 16-bit PNG or TIFF.

    Args:
        raw: the raw file (ARW, RAF, DNG, KDC ... anything rawpy reads).
        checkpoint: a model trained for the file's CFA; its input clip is the training's.
        out: the output image, .png or .tif/.tiff (16-bit).
        ratio: the amplification, e.g. 100.
        target_exposure: amplify to this exposure time in seconds; ratio = this / the file's
            exposure time.
        tile: run windows of this many packed pixels (multiple of 16, at least 288) to save
            memory; GIA's global pooling then sees one window at a time (default: the whole
            frame).
        device: the torch device (default: cuda if available, else cpu).
    """
    from gianet.inference.enhance import enhance_file

    print(
        enhance_file(
            raw,
            checkpoint,
            out,
            ratio=ratio,
            target_exposure=target_exposure,
            tile=tile,
            device=device,
        )
    )

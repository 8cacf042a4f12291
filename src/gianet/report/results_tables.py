"""Tables 1 to 3 of the paper as :class:`~gianet.report.model.Table` data, ours beside the
paper's.

Each of the paper's models keeps its row, in the paper's order, per camera (Sony's block
above Fuji's): a variant that was not run shows as not run, a model the paper only quotes
(:data:`gianet.variants.QUOTED_ONLY`) as quoted. Our value of a metric is the mean over seeds
of each seed's mean over the test images: the evaluation's ``summary.json`` (every test
image), or the mean of its per-image ``metrics.csv`` over the ``_00`` shots (SID's test
protocol, ``first_shots``). Under each table, the paper's comparisons measured per image
(:mod:`gianet.report.comparisons`).
"""

from __future__ import annotations

from collections.abc import Sequence

from gianet.domain.metrics import METRICS
from gianet.report import paper
from gianet.report.comparisons import Bootstrap, compare
from gianet.report.model import (
    Block,
    Cell,
    Column,
    Emph,
    Ours,
    Paper,
    Row,
    Status,
    Table,
    Text,
    mark_best,
)
from gianet.report.protocol import protocol_sentence, span
from gianet.report.runs import Evaluation, Evaluations, dataset_of, metric_status, selected
from gianet.report.stats import PairedDifference

#: The paper's metric columns, in its order (PSNR, SSIM, PieAPP, LPIPS).
COLUMNS = tuple(
    Column(spec.name, spec.header, spec.higher_is_better, spec.decimals)
    for spec in METRICS.values()
)
#: How our numbers are headed, per dataset: sid-synth's never read as SID's.
OURS_HEADER = {"sid": "ours", "sid-synth": "synth."}


def ours_header(dataset: str) -> str:
    """The column head of our numbers: ``ours`` on SID, ``synth.`` on sid-synth, the
    dataset's own name on any other."""
    return OURS_HEADER.get(dataset, dataset)


def results_table(
    number: int,
    evaluations: Evaluations,
    cameras: Sequence[str],
    *,
    first_shots: bool = False,
    bootstrap: Bootstrap,
    configuration: str = "",
) -> Table:
    """The paper's Table ``number`` (1 to 3) with our numbers beside it.

    Args:
        evaluations: per (camera, variant), its evaluations (one per seed) of one dataset;
            variants outside this table are ignored.
        cameras: the blocks, in order.
        first_shots: the table under SID's test protocol: means over each scene's ``_00``
            shots, from the per-image results.
        bootstrap: how the comparisons' intervals are drawn.
        configuration: a phrase naming the run's configuration, for the caption (may be
            empty).
    """
    if number not in paper.RESULT_TABLES:
        raise ValueError(f"results tables are {paper.RESULT_TABLES}, got {number}")
    dataset = dataset_of(evaluations)
    blocks = []
    for camera in cameras:
        rows = []
        for model in paper.models(number):
            variant = paper.variant_for(number, model)
            runs = evaluations.get((camera, variant.name), ()) if variant else ()
            cells = tuple(
                Cell(
                    _ours(runs, column.key, first_shots, quoted=variant is None),
                    _paper(number, camera, model, column.key),
                )
                for column in COLUMNS
            )
            name = variant.name if variant else None
            rows.append(Row(paper.row_label(number, model), model, name, cells))
        blocks.append(Block(camera, mark_best(COLUMNS, rows)))
    computed = [
        c.key
        for c in COLUMNS
        if any(cell.ours.status is Status.VALUE for cell in _cells(blocks, c))
    ]
    comparisons = compare(
        number, evaluations, cameras, computed, first_shots=first_shots, bootstrap=bootstrap
    )
    summaries = _summaries(evaluations, cameras, number, first_shots)
    return Table(
        key=f"table{number}" + ("_first" if first_shots else ""),
        number=number,
        dataset=dataset,
        caption=_caption(number, dataset, summaries, first_shots, blocks, configuration),
        protocol=protocol_sentence(summaries),
        ours_header=ours_header(dataset),
        columns=COLUMNS,
        blocks=tuple(blocks),
        notes=_notes(blocks),
        comparisons=comparisons,
        comparisons_caption=comparisons_caption(dataset, bootstrap, comparisons, first_shots),
    )


def _ours(runs: Sequence[Evaluation], metric: str, first_shots: bool, quoted: bool) -> Ours:
    """Our value of one metric: its mean over seeds, or why there is none."""
    if quoted:
        return Ours(Status.QUOTED)
    if not runs:
        return Ours(Status.NOT_RUN)
    for run in runs:
        status = metric_status(run, metric)
        if status:
            return Ours(Status(status))
    if not first_shots:
        return Ours.of([float(r.summary[metric]) for r in runs], [str(r.run.summary) for r in runs])
    values = []
    for run in runs:
        rows = selected(run.images, True)
        if rows.empty:
            raise ValueError(
                f"{run.run.metrics_csv}: no _00 shot among its {len(run.images)} evaluated "
                "images; SID's protocol has nothing to average"
            )
        values.append(float(rows[metric].astype(float).mean()))
    return Ours.of(values, [str(r.run.metrics_csv) for r in runs])


def _paper(number: int, camera: str, model: str, metric: str) -> Paper:
    printed = paper.published(number, camera, model, metric)
    return Paper(Status.VALUE, printed) if printed else Paper()


def _cells(blocks: Sequence[Block], column: Column) -> list[Cell]:
    index = COLUMNS.index(column)
    return [row.cells[index] for block in blocks for row in block.rows]


def _summaries(
    evaluations: Evaluations, cameras: Sequence[str], number: int, first_shots: bool
) -> list[dict]:
    """The summaries of this table's runs (``n_images`` over the ``_00`` shots for SID's
    protocol, whose ``test_exposures`` then reads ``first``)."""
    variants = {v.name for m in paper.models(number) if (v := paper.variant_for(number, m))}
    summaries = []
    for (camera, variant), runs in evaluations.items():
        if camera not in cameras or variant not in variants:
            continue
        for run in runs:
            summary = dict(run.summary)
            if first_shots:
                summary["n_images"] = len(selected(run.images, True))
                if summary.get("protocol"):
                    summary["protocol"] = {**summary["protocol"], "test_exposures": "first"}
            summaries.append(summary)
    return summaries


def dataset_words(dataset: str) -> Text:
    """Where our numbers were measured, as a caption's phrase."""
    if dataset == "sid":
        return ("our reproduction on the SID test set, full resolution",)
    if dataset == "sid-synth":
        return (
            "our reproduction (columns “synth.”) on sid-synth, the embedded ",
            Emph("synthetic"),
            " dataset (simulated raw pairs in SID's format: Sony-like Bayer and Fuji-like "
            "X-Trans). Our numbers are synthetic-data numbers, not SID numbers, and are not "
            "comparable with the paper's",
        )
    return (f"our reproduction on the dataset {dataset}. Our numbers are not SID numbers",)


def _caption(
    number: int,
    dataset: str,
    summaries: Sequence[dict],
    first_shots: bool,
    blocks: Sequence[Block],
    configuration: str,
) -> Text:
    images = ", ".join(
        f"{camera} {span([int(s['n_images']) for s in summaries if s['camera'] == camera])}"
        for camera in dict.fromkeys(s["camera"] for s in summaries)
    )
    seeds = {cell.ours.seeds for block in blocks for row in block.rows for cell in row.cells}
    seeds.discard(0)
    quoted = any(row.quoted for block in blocks for row in block.rows)
    return (
        f"Table {number} of the paper ({paper.TOPICS[number]}), measured on the SID test set, "
        "beside ",
        *dataset_words(dataset),
        ".",
        " Ours under SID's test protocol: only the _00 shot(s) of each test scene (SID's "
        "test_Sony.py), means over the same evaluations' per-image results."
        if first_shots
        else "",
        f" Configuration: {configuration}." if configuration else "",
        f" Test images per camera: {images or 'none'}." if summaries else "",
        " Means over test images"
        + (
            f", then mean ± standard deviation over {span(sorted(seeds))} training seeds"
            if seeds and max(seeds) > 1
            else ""
        )
        + "; Δ: ours − paper's; bold: best of each column and camera; –: not run or not "
        "reported; n/a: not computed (see below)"
        + (
            "; †: quoted by the paper from its original publication, not retrained"
            if quoted
            else ""
        )
        + ".",
    )


def _notes(blocks: Sequence[Block]) -> tuple[str, ...]:
    """Why a metric column has no number of ours (not computed, or unavailable)."""
    notes = []
    for column in COLUMNS:
        statuses = {cell.ours.status for cell in _cells(blocks, column)}
        if Status.UNAVAILABLE in statuses:
            notes.append(
                f"{column.header}: requested but not computed, its pretrained weights were "
                "missing (snakemake --forcerun fetch_weights, then evaluate again)."
            )
        elif Status.NOT_COMPUTED in statuses:
            notes.append(f"{column.header}: not computed (not in evaluate.metrics).")
    return tuple(notes)


def comparisons_caption(
    dataset: str,
    bootstrap: Bootstrap,
    comparisons: Sequence,
    first_shots: bool = False,
) -> str:
    """What the statistics under a table are."""
    results: list[PairedDifference] = [c.result for c in comparisons if c.result is not None]
    seeds = sorted({r.seeds_a for r in results} | {r.seeds_b for r in results})
    whose = {
        "sid-synth": "sid-synth's statistics: synthetic-data differences, not SID's. ",
        "sid": "",
    }.get(dataset, f"Statistics of {dataset}, not SID's. ")
    return (
        f"{whose}Paired per-image differences A − B"
        + (" over the _00 shots" if first_shots else " over the test images")
        + f": mean, its {bootstrap.confidence:.0%} percentile bootstrap interval "
        f"({bootstrap.resamples} resamples of the images"
        + (", and of each variant's seeds" if seeds and max(seeds) > 1 else "")
        + f", seed {bootstrap.seed}), and the images on which A / B is better (/ ties, when any). "
        "*: the interval excludes 0."
    )

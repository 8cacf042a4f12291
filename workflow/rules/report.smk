"""Report: Table 4 costs, LaTeX tables beside the paper's numbers, figure grids, curves.

Outputs marked `report(...)` make up `snakemake --report report.html`: the tables rendered
from their LaTeX, the figure grids and the curves, with the captions of workflow/report/.
"""


rule cost:
    output:
        COSTS,
    params:
        extra_convs_kernel=config["train"]["extra_convs_kernel"],
    resources:
        runtime=30,
        mem_mb=4000,
    log:
        f"{LOGS}/cost.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet cost --out {output:q} --extra-convs-kernel {params.extra_convs_kernel} "
        "2>&1 | tee {log:q}"


rule report:
    input:
        costs=COSTS,
        summaries=per_run(SUMMARY),
        metrics_csvs=per_run(METRICS_CSV),
        curves=per_run(CURVES),
    output:
        tables=TABLES,
        tables_html=report(TABLES_HTML, caption="../report/tables.rst", category="Tables"),
        figures=[
            report(figure, caption="../report/figure.rst", category="Figures", labels=labels)
            for figure, labels in zip(FIGURES, camera_labels())
        ],
        curve_figures=[
            report(curves, caption="../report/curves.rst", category="Curves", labels=labels)
            for curves, labels in zip(CURVE_FIGURES, camera_labels())
        ],
        headline=HEADLINE,
        curve_tables=CURVE_TABLES,
    params:
        dataset=DATASET,
        cameras=" ".join(CAMERAS),
        variants=" ".join(VARIANTS),
        figure_variants=" ".join(config["report"]["figure_variants"]),
        first_shot_tables="--first-shot-tables" if config["report"]["first_shot_tables"] else "",
    resources:
        runtime=60,
        mem_mb=8000,
    log:
        f"{LOGS}/report.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet report --dataset {params.dataset} --cameras {params.cameras} "
        "--variants {params.variants} --figure-variants {params.figure_variants} "
        "--summaries {input.summaries:q} --metrics-csvs {input.metrics_csvs:q} "
        "{params.first_shot_tables} "
        "--curves {input.curves:q} --costs {input.costs:q} --tables {output.tables:q} "
        "--tables-html {output.tables_html:q} "
        "--figures {output.figures:q} --curve-figures {output.curve_figures:q} "
        "--headline {output.headline:q} --curve-tables {output.curve_tables:q} "
        "2>&1 | tee {log:q}"

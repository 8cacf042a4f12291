"""Report: Table 4 costs, LaTeX tables beside the paper's numbers, figure grids, curves."""


rule cost:
    output:
        COSTS,
    resources:
        runtime=30,
        mem_mb=4000,
    log:
        f"{LOGS}/cost.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet cost --out {output:q} 2>&1 | tee {log:q}"


rule report:
    input:
        costs=COSTS,
        summaries=per_run(SUMMARY),
        curves=per_run(CURVES),
    output:
        tables=TABLES,
        figures=FIGURES,
        curve_figures=CURVE_FIGURES,
        headline=HEADLINE,
        curve_tables=CURVE_TABLES,
    params:
        dataset=DATASET,
        cameras=" ".join(CAMERAS),
        variants=" ".join(VARIANTS),
        figure_variants=" ".join(config["report"]["figure_variants"]),
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
        "--summaries {input.summaries:q} "
        "--curves {input.curves:q} --costs {input.costs:q} --tables {output.tables:q} "
        "--figures {output.figures:q} --curve-figures {output.curve_figures:q} "
        "--headline {output.headline:q} --curve-tables {output.curve_tables:q} "
        "2>&1 | tee {log:q}"

"""Report: Table 4 costs, LaTeX tables beside the paper's numbers, figure grids."""


rule cost:
    output:
        str(REPORT / "cost.json"),
    params:
        override=sections("dataset", "paths"),
    log:
        f"{LOGS}/cost.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet cost --out {output} --override {params.override:q} 2>&1 | tee {log}"


rule report:
    input:
        costs=str(REPORT / "cost.json"),
        summaries=expand(str(RESULTS / "summary.json"), camera=CAMERAS, variant=VARIANTS),
        curves=expand(TRAIN_METRICS, camera=CAMERAS, variant=VARIANTS),
    output:
        REPORT_OUTPUTS,
    params:
        override=sections("dataset", "paths", "cameras", "variants", "report"),
    log:
        f"{LOGS}/report.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet report --costs {input.costs} --override {params.override:q} 2>&1 | tee {log}"

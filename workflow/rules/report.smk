"""Report: Table 4 costs, LaTeX tables beside the paper's numbers, figure grids, curves.

Outputs marked `report(...)` make up `snakemake --report report.html`: the rendered tables,
the figure grids and the curves, with the captions of workflow/report/.
"""


rule cost:
    output:
        out=COSTS,
    params:
        settings=settings_of(CostJob, PARAMS),
    resources:
        runtime=30,
        mem_mb=4000,
    log:
        f"{LOGS}/cost.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("cost")


rule report:
    input:
        summaries=per_run(SUMMARY),
        metrics_csvs=per_run(METRICS_CSV),
        curves=per_run(CURVES),
        costs=COSTS,
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
        loss_curves=LOSS_CURVES,
        psnr_curves=PSNR_CURVES,
    params:
        settings=settings_of(ReportJob, PARAMS),
    resources:
        runtime=60,
        mem_mb=8000,
    log:
        f"{LOGS}/report.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("report")

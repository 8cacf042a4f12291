"""Report: Table 4 costs, then the tables beside the paper's numbers (LaTeX, HTML, CSV,
JSON), the paired statistics, figure grids, curves and report.tex of the run, and its PDF
where a LaTeX engine is on PATH.

Outputs marked `report(...)` make up `snakemake --report report.html`: the rendered tables,
the figure grids, the curves and the per-image scatter plots, with the captions of
workflow/report/.
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
        # SID's released weights' evaluations, when sid.released_models names any.
        released=RELEASED_SUMMARIES,
    output:
        outputs=report_outputs_for_snakemake(),
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


# A rule of its own, so that a LaTeX error never costs the report's other files.
rule report_pdf:
    input:
        tex=REPORT_FILES["report_tex"],
        included=[path for name, path in REPORT_FILES.items() if name != "report_tex"],
    output:
        pdf=REPORT_PDF,
    resources:
        runtime=30,
        mem_mb=2000,
    log:
        f"{LOGS}/report_pdf.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("report-pdf")

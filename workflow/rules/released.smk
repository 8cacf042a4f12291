"""SID's released weights (sid.released_models; README: Checking against SID's released
weights): each camera's TensorFlow checkpoint imported once, evaluated under each test
protocol (gianet/stages/released.py: all short exposures and the _00 shots; where
sid.exclude_scenes leaves scenes out, each also with every scene), and their table beside
the published scores, alone (`snakemake released`, no training needed) and in the report.

With sid.released_models null for every camera (the default) none of these rules exists and
the DAG is the same as without this file.
"""

RELEASED_OUTPUTS = (
    [str(path) for path in released_outputs(REPORT).values()] if RELEASED_SUMMARIES else []
)


if RELEASED_SUMMARIES:

    localrules:
        released,

    # The check alone: `snakemake --cores all --configfile ... released`.
    rule released:
        input:
            RELEASED_OUTPUTS,

    # The checkpoint's files are the inputs (its .index and data shards), so a changed
    # checkpoint is imported again.
    rule import_sid:
        input:
            checkpoint=lambda wildcards: [
                str(path)
                for path in checkpoint_files(PARAMS.sid.released_models[wildcards.camera])
            ],
        output:
            out=RELEASED_MODEL,
        params:
            settings=settings_of(ImportJob, PARAMS),
        resources:
            runtime=30,
            mem_mb=4000,
        log:
            f"{LOGS}/import_sid_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            shell_command("import-sid")

    rule evaluate_released:
        input:
            model=RELEASED_MODEL,
            manifest=MANIFEST,
            record=RECORD,
            weights=WEIGHTS_STATUS,
        output:
            csv=str(RELEASED_DIR / paths.METRICS_CSV),
            summary=str(RELEASED_DIR / paths.SUMMARY),
        params:
            settings=settings_of(ReleasedEvaluateJob, PARAMS),
            samples=str(RELEASED_DIR / paths.SAMPLES),
        threads: PARAMS.runtime.threads
        resources:
            runtime=240,
            mem_mb=16000,
            gpu=1,
            slurm_extra=SLURM_STOP_REQUEST,
            gianet_runtime=RUNTIME,
        log:
            f"{LOGS}/evaluate_released_{{camera}}_{{protocol}}.log",
        benchmark:
            f"{BENCHMARKS}/evaluate_released_{{camera}}_{{protocol}}.tsv"
        conda:
            "../envs/gianet.yaml"
        shell:
            shell_command("evaluate", log="append", stop_safe=True)

    rule report_released:
        input:
            summaries=RELEASED_SUMMARIES,
        output:
            **{kind: str(path) for kind, path in released_outputs(REPORT).items()},
        params:
            settings=settings_of(ReleasedReportJob, PARAMS),
        resources:
            runtime=10,
            mem_mb=2000,
        log:
            f"{LOGS}/report_released.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            shell_command("report-released")

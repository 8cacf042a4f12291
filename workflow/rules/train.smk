"""Training and evaluation, one job per camera and variant, and the metrics' weights.

Both GPU rules survive time limits (gianet/jobs/interrupt.py): on SLURM they ask for SIGTERM
STOP_NOTICE seconds before the limit; training saves its state, the job requeues itself and
resumes when it runs again. Their shell ignores the stop signals so that it and `tee` outlive
the job and the interruption message lands in the log, which every run appends to.

fetch_weights tries once to fetch the LPIPS backbone's (evaluate.lpips_backbone) and PieAPP's
weights into paths.weights; offline it
still succeeds, and evaluation reports those metrics as unavailable. Once the weights are in
place (fetched or copied by hand), `snakemake --forcerun fetch_weights` reevaluates with them.
"""

# Seconds before a SLURM time limit at which a GPU job is told to stop (sbatch --signal; SLURM
# may send it up to 60 s earlier): the step in flight and the state save take seconds, the
# largest model's 3 s, RIDNet's CPU step 33 s (benchmarks/bench_state_save.py). SIGTERM, as a
# cancel: the job requeues itself only while SLURM still has it running (gianet/jobs/
# interrupt.py). `--open-mode=append` keeps the SLURM log of every run of a requeued job.
STOP_NOTICE = 600
SLURM_STOP_REQUEST = f"--signal=TERM@{STOP_NOTICE} --open-mode=append"



rule train:
    input:
        manifest=ancient(MANIFEST),
    output:
        model=MODEL,
        curves=CURVES,
    params:
        settings=train_settings,
        data=DATASET_IDENTITY,
    threads: config["runtime"]["threads"]
    resources:
        runtime=2880,
        mem_mb=16000,
        gpu=1,
        slurm_extra=SLURM_STOP_REQUEST,
        gianet_runtime=RUNTIME,
    log:
        f"{LOGS}/train_{{camera}}_{{variant}}.log",
    benchmark:
        f"{BENCHMARKS}/train_{{camera}}_{{variant}}.tsv"
    conda:
        "../envs/gianet.yaml"
    shell:
        "trap '' TERM USR1; "
        "gianet train --camera {wildcards.camera} --variant {wildcards.variant} "
        "--manifest {input.manifest:q} --model {output.model:q} --curves {output.curves:q} "
        "--settings {params.settings:q} --runtime {resources.gianet_runtime:q} "
        "--threads {threads} 2>&1 | tee -a {log:q}"


rule evaluate:
    input:
        model=MODEL,
        manifest=ancient(MANIFEST),
        weights=WEIGHTS_STATUS,
    output:
        csv=METRICS_CSV,
        summary=SUMMARY,
    params:
        # Sample PNGs for the figure: the summary names them, so the folder is no output
        # (a directory output's timestamp would not survive DVC's checkouts).
        samples_dir=SAMPLES,
        data=DATASET_IDENTITY,
        # The cache's test split is selected by these (pack's); the summary reports them.
        exclude_scenes=excluded_scenes,
        test_exposures=test_exposures,
        dataset=DATASET,
        metrics=" ".join(config["evaluate"]["metrics"]),
        lpips_backbone=config["evaluate"]["lpips_backbone"],
        samples=config["evaluate"]["samples"],
        max_input=config["train"]["max_input"],
    threads: config["runtime"]["threads"]
    resources:
        runtime=240,
        mem_mb=16000,
        gpu=1,
        slurm_extra=SLURM_STOP_REQUEST,
        gianet_runtime=RUNTIME,
    log:
        f"{LOGS}/evaluate_{{camera}}_{{variant}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate_{{camera}}_{{variant}}.tsv"
    conda:
        "../envs/gianet.yaml"
    shell:
        "trap '' TERM USR1; "
        "gianet evaluate --model {input.model:q} --manifest {input.manifest:q} "
        "--weights {input.weights:q} --csv {output.csv:q} --summary {output.summary:q} "
        "--samples-dir {params.samples_dir:q} --dataset {params.dataset} "
        "--metrics {params.metrics} --lpips-backbone {params.lpips_backbone} "
        "--samples {params.samples} --max-input {params.max_input} "
        "--runtime {resources.gianet_runtime:q} --threads {threads} 2>&1 | tee -a {log:q}"


# Runs where the network is (a cluster's login node).
localrules:
    fetch_weights,


rule fetch_weights:
    output:
        WEIGHTS_STATUS,
    params:
        metrics=" ".join(config["evaluate"]["metrics"]),
        lpips_backbone=config["evaluate"]["lpips_backbone"],
        checksums=config["evaluate"]["weights_checksums"],
    log:
        f"{LOGS}/fetch_weights.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet fetch-weights --status {output:q} --metrics {params.metrics} "
        "--lpips-backbone {params.lpips_backbone} --checksums {params.checksums:q} "
        "2>&1 | tee {log:q}"

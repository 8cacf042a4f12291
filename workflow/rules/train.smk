"""Training and evaluation, one job per camera, variant and seed, and the metrics' weights.

Both GPU rules survive time limits (gianet/jobs/interrupt.py): on SLURM they ask for a
signal STOP_NOTICE seconds before the limit; training saves its state, the job requeues
itself and resumes when it runs again. Their shell ignores the stop signals so that it and
`tee` outlive the job and the interruption message lands in the log, which every run
appends to.

fetch_weights tries once to fetch the LPIPS backbone's (evaluate.lpips_backbone) and PieAPP's
weights into paths.weights; offline it still succeeds, and evaluation reports those metrics as
unavailable. Once the weights are in place (fetched or copied by hand), `snakemake --forcerun
fetch_weights` reevaluates with them.
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
        manifest=MANIFEST,
        record=RECORD,
    output:
        model=MODEL,
        curves=CURVES,
    params:
        settings=settings_of(TrainJob, PARAMS),
    threads: PARAMS.runtime.threads
    resources:
        runtime=2880,
        mem_mb=16000,
        gpu=1,
        slurm_extra=SLURM_STOP_REQUEST,
        gianet_runtime=RUNTIME,
    log:
        f"{LOGS}/train_{{camera}}_{{variant}}_seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train_{{camera}}_{{variant}}_seed{{seed}}.tsv"
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("train", log="append", stop_safe=True)


rule evaluate:
    input:
        model=MODEL,
        manifest=MANIFEST,
        record=RECORD,
        weights=WEIGHTS_STATUS,
    output:
        csv=METRICS_CSV,
        summary=SUMMARY,
    params:
        settings=settings_of(EvaluateJob, PARAMS),
        # The figure's sample PNGs: the summary names them, so the folder is no output.
        samples=SAMPLES,
    threads: PARAMS.runtime.threads
    resources:
        runtime=240,
        mem_mb=16000,
        gpu=1,
        slurm_extra=SLURM_STOP_REQUEST,
        gianet_runtime=RUNTIME,
    log:
        f"{LOGS}/evaluate_{{camera}}_{{variant}}_seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate_{{camera}}_{{variant}}_seed{{seed}}.tsv"
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("evaluate", log="append", stop_safe=True)


# Runs where the network is (a cluster's login node).
localrules:
    fetch_weights,


rule fetch_weights:
    output:
        status=WEIGHTS_STATUS,
    params:
        settings=settings_of(WeightsJob, PARAMS),
        checksums=PARAMS.evaluate.weights_checksums,
    log:
        f"{LOGS}/fetch_weights.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("fetch-weights")

"""Training and evaluation, one job per camera and variant, and the metrics' weights.

fetch_weights tries once to fetch the LPIPS and PieAPP weights into paths.weights; offline it
still succeeds, and evaluation reports those metrics as unavailable. Once the weights are in
place (fetched or copied by hand), `snakemake --forcerun fetch_weights` reevaluates with them.
"""


rule train:
    input:
        MANIFEST,
    output:
        model=MODEL,
        curves=TRAIN_METRICS,
    params:
        override=sections("dataset", "paths", "train"),
    threads: config["train"]["threads"]
    log:
        f"{LOGS}/train_{{camera}}_{{variant}}.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet train --camera {wildcards.camera} --variant {wildcards.variant} "
        "--override {params.override:q} 2>&1 | tee {log}"


rule evaluate:
    input:
        model=MODEL,
        manifest=MANIFEST,
        weights=WEIGHTS_STATUS,
    output:
        csv=str(RESULTS / "metrics.csv"),
        summary=str(RESULTS / "summary.json"),
    params:
        override=sections("dataset", "paths", "train", "evaluate"),
    threads: config["train"]["threads"]
    log:
        f"{LOGS}/evaluate_{{camera}}_{{variant}}.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet evaluate --camera {wildcards.camera} --variant {wildcards.variant} "
        "--override {params.override:q} 2>&1 | tee {log}"


rule fetch_weights:
    output:
        WEIGHTS_STATUS,
    params:
        override=sections("paths", "evaluate.metrics", "evaluate.weights_checksums"),
    log:
        f"{LOGS}/fetch_weights.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet fetch-weights --status {output} --override {params.override:q} 2>&1 | tee {log}"

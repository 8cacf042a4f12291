"""Training and evaluation, one job per camera and variant."""


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

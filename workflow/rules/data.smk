"""Data: generate or fetch a dataset, then pack every raw once into the cache."""


if DATASET == "sid-synth":

    rule synth:
        output:
            LISTS,
        params:
            override=sections("dataset", "paths", "synth"),
        log:
            f"{LOGS}/synth_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            "gianet synth --camera {wildcards.camera} --override {params.override:q} 2>&1 | tee {log}"

else:

    rule fetch_sid:
        output:
            LISTS,
        params:
            override=sections("dataset", "paths", "sid"),
        log:
            f"{LOGS}/fetch_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            "gianet fetch-sid --camera {wildcards.camera} --override {params.override:q} 2>&1 | tee {log}"


rule pack:
    input:
        LISTS,
    output:
        MANIFEST,
    params:
        override=sections("dataset", "paths", "sid", "evaluate.test_exposures"),
    threads: workflow.cores
    log:
        f"{LOGS}/pack_{{camera}}.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet pack --camera {wildcards.camera} --workers {threads} "
        "--override {params.override:q} 2>&1 | tee {log}"

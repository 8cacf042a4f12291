"""Data: generate sid-synth or fetch real SID, then pack every raw once into the cache."""


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

    localrules:
        sid_download,

    rule sid_download:
        output:
            SID_DOWNLOAD,
        params:
            override=sections("dataset", "paths", "sid.archives", "sid.checksums"),
        log:
            f"{LOGS}/sid_download_{{camera}}{{suffix}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            "gianet sid-download --camera {wildcards.camera} --override {params.override:q} "
            "2>&1 | tee {log}"

    rule sid_unpack:
        input:
            sid_archive,
        output:
            LISTS,
        params:
            override=sections("dataset", "paths", "sid.root", "sid.archives"),
        log:
            f"{LOGS}/sid_unpack_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            "gianet sid-unpack --camera {wildcards.camera} --override {params.override:q} "
            "2>&1 | tee {log}"


rule pack:
    input:
        LISTS,
    output:
        MANIFEST,
    params:
        override=sections(
            "dataset", "paths", "sid.root", "sid.exclude_scenes", "evaluate.test_exposures"
        ),
    threads: workflow.cores
    log:
        f"{LOGS}/pack_{{camera}}.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet pack --camera {wildcards.camera} --workers {threads} "
        "--override {params.override:q} 2>&1 | tee {log}"

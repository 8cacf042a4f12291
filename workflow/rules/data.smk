"""Data: generate sid-synth or fetch real SID, then pack every raw once into the cache."""


if DATASET == "sid-synth":

    rule synth:
        output:
            LISTS,
        params:
            settings=settings("synth"),
        resources:
            runtime=60,
            mem_mb=4000,
        log:
            f"{LOGS}/synth_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            "gianet synth --camera {wildcards.camera} --lists {output:q} "
            "--settings {params.settings:q} 2>&1 | tee {log:q}"

else:

    # Downloads run where the network is (a cluster's login node).
    localrules:
        sid_download,

    # The URL and a pinned sha256 decide what is accepted, so they are params; the network's
    # timeout and retries are runtime settings, passed as a resource (changing them reruns
    # nothing).
    rule sid_download:
        output:
            SID_DOWNLOAD,
        params:
            url=lambda wildcards: config["sid"]["archives"][wildcards.camera]["url"],
            sha256=lambda wildcards: config["sid"]["archives"][wildcards.camera]["sha256"] or "",
            checksums=config["sid"]["checksums"],
        resources:
            gianet_runtime=RUNTIME,
        log:
            f"{LOGS}/sid_download_{{camera}}{{suffix}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            "gianet sid-download --url {params.url:q} --out {output:q} "
            "--sha256 {params.sha256:q} --checksums {params.checksums:q} "
            "--runtime {resources.gianet_runtime:q} 2>&1 | tee {log:q}"

    rule sid_unpack:
        input:
            sid_archive,
        output:
            LISTS,
        resources:
            runtime=480,
            mem_mb=4000,
        log:
            f"{LOGS}/sid_unpack_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            "gianet sid-unpack --camera {wildcards.camera} --lists {output:q} "
            "--archive {input:q} 2>&1 | tee {log:q}"


rule pack:
    input:
        LISTS,
    output:
        MANIFEST,
    params:
        exclude_scenes=excluded_scenes,
        test_exposures=test_exposures,
        levels=config["sid"]["levels"],
    # One decoding process per thread; capped at --cores locally, `set-threads` on a cluster.
    threads: 16
    resources:
        runtime=480,
        mem_mb=16000,
    log:
        f"{LOGS}/pack_{{camera}}.log",
    benchmark:
        f"{BENCHMARKS}/pack_{{camera}}.tsv"
    conda:
        "../envs/gianet.yaml"
    shell:
        "gianet pack --camera {wildcards.camera} --lists {input:q} --manifest {output:q} "
        "--exclude-scenes {params.exclude_scenes} --test-exposures {params.test_exposures} "
        "--levels {params.levels} --workers {threads} 2>&1 | tee {log:q}"


# The dataset alone (DVC's `data` stage runs `snakemake dataset`).
rule dataset:
    input:
        expand(LISTS, camera=CAMERAS),

"""Data: generate sid-synth or fetch real SID and record it, pack every raw once into the
cache, and verify the cache."""


if DATASET == "sid-synth":

    # A checkpoint: pack's inputs are the raws its record lists.
    checkpoint synth:
        output:
            lists=LISTS,
            record=RECORD,
        params:
            settings=settings_of(SynthJob, PARAMS),
        resources:
            runtime=60,
            mem_mb=4000,
            gianet_runtime=RUNTIME,
        log:
            f"{LOGS}/synth_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            shell_command("synth")

else:

    # Downloads run where the network is (a cluster's login node).
    localrules:
        sid_download,

    # The URL and a pinned sha256 decide what is accepted (the settings); the network's
    # timeout and retries are runtime settings (changing them reruns nothing).
    rule sid_download:
        output:
            archive=SID_DOWNLOAD,
        params:
            settings=settings_of(ArchiveJob, PARAMS),
            checksums=PARAMS.sid.checksums,
        resources:
            gianet_runtime=RUNTIME,
        log:
            f"{LOGS}/sid_download_{{camera}}{{suffix}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            shell_command("sid-download")

    # A checkpoint: pack's inputs are the raws its record lists.
    checkpoint sid_unpack:
        input:
            unpack(sid_sources),
        output:
            lists=LISTS,
            record=RECORD,
        params:
            settings=settings_of(CameraJob, PARAMS),
        resources:
            runtime=480,
            mem_mb=4000,
            gianet_runtime=RUNTIME,
        log:
            f"{LOGS}/sid_unpack_{{camera}}.log",
        conda:
            "../envs/gianet.yaml"
        shell:
            shell_command("sid-unpack")


# A checkpoint: verify_cache's inputs are the arrays its manifest names.
checkpoint pack:
    input:
        lists=LISTS,
        record=RECORD,
        raws=dataset_raws,
    output:
        manifest=MANIFEST,
    params:
        settings=settings_of(PackJob, PARAMS),
    # One decoding process per thread.
    threads: 16
    resources:
        runtime=480,
        mem_mb=16000,
        gianet_runtime=RUNTIME,
    log:
        f"{LOGS}/pack_{{camera}}.log",
    benchmark:
        f"{BENCHMARKS}/pack_{{camera}}.tsv"
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("pack")


# Runs again when an array's modification time moves past the last verification's: it
# hashes what changed and rebuilds what is damaged (gianet/data/verify.py).
rule verify_cache:
    input:
        manifest=MANIFEST,
        record=RECORD,
        arrays=cached_arrays,
    output:
        state=VERIFIED,
    resources:
        runtime=240,
        mem_mb=4000,
        gianet_runtime=RUNTIME,
    log:
        f"{LOGS}/verify_cache_{{camera}}.log",
    conda:
        "../envs/gianet.yaml"
    shell:
        shell_command("verify-cache")

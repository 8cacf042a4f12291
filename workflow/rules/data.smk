"""Data: generate sid-synth or fetch real SID and record it, and pack every raw once into the
cache. The jobs that read the cache check every file they read and rebuild a damaged array
first (gianet/data/verify.py): no rule stands between pack and them."""


if DATASET == "sid-synth":

    rule synth:
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

    # With sid.root, the raws there are its inputs: a changed one is recorded again.
    rule sid_unpack:
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


# The record names every raw with its size and sha256: a changed dataset changes the record
# (compared by content), and pack runs again.
rule pack:
    input:
        lists=LISTS,
        record=RECORD,
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

"""gianet: the GIA-Net reproduction as one Snakemake DAG.

    snakemake --cores all                                  # demo on sid-synth (params.yaml)
    snakemake --cores all --configfile configs/paper.yaml  # the paper on real SID
    snakemake --profile profiles/slurm --configfile configs/paper.yaml   # on a SLURM cluster
"""


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


# Downloads run where the network is (a cluster's login node); the rest may go to the queue.
localrules:
    all,
    fetch_weights,


rule all:
    input:
        REPORT_OUTPUTS,
    default_target: True

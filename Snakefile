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


rule all:
    input:
        REPORT_OUTPUTS,
    default_target: True

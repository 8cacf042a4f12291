"""gianet: the GIA-Net reproduction as one Snakemake DAG.

    snakemake --cores all                                  # demo on sid-synth (params.yaml)
    snakemake --cores all --configfile configs/paper.yaml  # the paper on real SID
    snakemake --profile profiles/slurm --configfile configs/paper.yaml   # on a SLURM cluster

The configuration is this folder's params.yaml (also DVC's params), wherever the workflow
runs; --configfile and --config merge over it.
"""

from pathlib import Path

from snakemake.utils import min_version

min_version("8.20")


configfile: Path(workflow.basedir) / "params.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/released.smk"


localrules:
    all,


rule all:
    input:
        REPORT_OUTPUTS,
        RELEASED_OUTPUTS,
    default_target: True


onsuccess:
    # A plain `snakemake` run's outputs, recorded in DVC (gianet/stages/dvc.py).
    print(record_outputs(Path.cwd(), PARAMS))

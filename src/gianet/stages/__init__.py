"""Every stage of the pipeline, each declared once as a typed function
(:mod:`gianet.stages.declaration`): the command line (:mod:`gianet.cli`) and the Snakemake
rules' shell commands (:mod:`gianet.stages.snakemake`) are generated from :data:`STAGES`.

Importing this package imports no torch: each stage imports what it runs when it runs.
"""

from gianet.stages import data, models, released, report, tools  # noqa: F401 (declare stages)
from gianet.stages.declaration import STAGES, JobSettings, Role, Stage

__all__ = ["STAGES", "JobSettings", "Role", "Stage"]

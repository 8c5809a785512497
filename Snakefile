# dsbench: the whole reproduction. `snakemake --cores all` runs every method x model x
# resolution x seed of workflows/config.yaml; see README.md for targets and profiles.
from snakemake.utils import min_version

min_version("8.0")


# Relative to this file, so `snakemake -d OTHER_DIR` (tests, scratch runs) reads the same config.
configfile: f"{workflow.basedir}/workflows/config.yaml"


report: "workflows/report/workflow.rst"


# Validated by workflows/common.smk (benchmark/matrix.py) after the experiment is applied.


include: "workflows/common.smk"
include: "workflows/figures.smk"


# With figures_only=true the run rules are left out, so results/metrics.csv is a source file and
# figures are rebuilt from stored metrics alone, whatever is missing under results/runs/.
if not FIGURES_ONLY:

    include: "workflows/data.smk"
    include: "workflows/train.smk"
    include: "workflows/evaluate.smk"
    include: "workflows/studies.smk"
    include: "workflows/superpixels.smk"
    include: "workflows/aggregate.smk"
    include: "workflows/report.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,

# Tumour-cohort drug-target rationale: RNA-seq counts -> differential expression -> enrichment ->
# EGFR / VEGFR / FGFR / CSF1R axis evidence -> drug rationale. See README.md and config/README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/cohort.smk"


rule all:
    input:
        final_outputs(),
    default_target: True

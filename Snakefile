# Tumour-cohort drug-target rationale: RNA-seq counts -> differential expression -> enrichment ->
# EGFR / VEGFR / FGFR / CSF1R axis evidence -> drug rationale. See README.md and config/README.md.

from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/genesets.smk"
include: "workflow/rules/admixture.smk"
include: "workflow/rules/diffexp.smk"
include: "workflow/rules/enrichment.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/patients.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True

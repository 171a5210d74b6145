"""Rule `purify`: the cohort with each sample's expected host-tissue reads taken out (site effects at zero
admixture)."""

import anndata as ad
from target_rationale.admixture.adjust import write_adjusted_cohort
from target_rationale.admixture.reference import load_host_reference
from target_rationale.core.jobs import script_logging
from target_rationale.core.tsv import read_tsv

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_adjusted_cohort(
        cohort=ad.read_h5ad(snakemake.input.cohort),
        admixture=read_tsv(snakemake.input.table),
        reference=load_host_reference(snakemake.input.reference, snakemake.input.manifest),
        out_h5ad=snakemake.output.h5ad,
    )

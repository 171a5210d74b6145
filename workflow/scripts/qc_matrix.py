"""Rule `qc_matrix`: normalised and variance-stabilised counts of all samples, with liver-admixture scores."""

import anndata as ad
from target_rationale.de import read_liver_signature, write_qc
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_qc(
        cohort=ad.read_h5ad(snakemake.input.cohort),
        liver_genes=read_liver_signature(snakemake.input.liver_signature),
        seed=snakemake.params.seed,
        out_h5ad=snakemake.output.h5ad,
        out_samples=snakemake.output.samples,
    )

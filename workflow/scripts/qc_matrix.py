"""Rule `qc_matrix`: normalised and variance-stabilised counts of all samples, with liver-admixture scores."""

import anndata as ad
from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.jobs import script_logging
from target_rationale.diffexp.qc import write_qc

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_qc(
        cohort=ad.read_h5ad(snakemake.input.cohort),
        liver_genes=read_liver_signature(snakemake.input.liver_signature),
        seed=snakemake.params.seed,
        out_h5ad=snakemake.output.h5ad,
        out_samples=snakemake.output.samples,
    )

"""Rule `contrast`: Wald test (and LFC shrinkage) of one contrast on its fitted model."""

import anndata as ad
from target_rationale.de import DiffexpSettings, read_liver_signature, write_contrast
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_contrast(
        fit_path=snakemake.input.fit,
        genes=ad.read_h5ad(snakemake.input.cohort, backed="r").var.copy(),
        contrast=snakemake.params.contrast,
        settings=DiffexpSettings.from_config(snakemake.params.settings),
        liver_genes=read_liver_signature(snakemake.input.liver_signature),
        n_cpus=snakemake.threads,
        out_table=snakemake.output.table,
    )

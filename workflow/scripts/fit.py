"""Rule `fit`: one pydeseq2 model for the contrasts that share a design and sample subset."""

import anndata as ad
from target_rationale.de import DiffexpSettings, write_fit
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_fit(
        cohort=ad.read_h5ad(snakemake.input.cohort),
        contrasts=snakemake.params.contrasts,
        settings=DiffexpSettings.from_config(snakemake.params.settings),
        n_cpus=snakemake.threads,
        out_fit=snakemake.output[0],
    )

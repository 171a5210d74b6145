"""Rule `fit`: one pydeseq2 model for the contrasts that share a design and sample subset."""

import anndata as ad
from target_rationale.core.jobs import script_logging
from target_rationale.diffexp.model import write_fit
from target_rationale.diffexp.settings import FitSettings

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_fit(
        cohort=ad.read_h5ad(snakemake.input.cohort),
        contrasts=snakemake.params.contrasts,
        settings=FitSettings.from_config(snakemake.params.settings),
        n_cpus=snakemake.threads,
        out_fit=snakemake.output[0],
    )

"""Rule `qc_plots`: library sizes, PCA and sample-distance heatmap of all samples."""

import anndata as ad
from target_rationale.core.jobs import script_logging
from target_rationale.diffexp.qc_plots import write_qc_plots

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_qc_plots(
        qc=ad.read_h5ad(snakemake.input.qc),
        design_variables=snakemake.params.design_variables,
        seed=snakemake.params.seed,
        out=dict(snakemake.output.items()),
    )

"""Rule `target_plots`: axis genes across samples, per-sample axis scores, the axis x contrast evidence grid."""

import anndata as ad
from target_rationale.core.io import read_tsv
from target_rationale.core.jobs import script_logging
from target_rationale.targets.plots import write_target_plots

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_target_plots(
        qc=ad.read_h5ad(snakemake.input.qc),
        scores=read_tsv(snakemake.input.scores),
        table=read_tsv(snakemake.input.axes, na_values=[]),  # empty cells stay "" (the grid shows them blank)
        axes=snakemake.params.axes,
        group=snakemake.params.group,
        annotate=snakemake.params.annotate,
        out=dict(snakemake.output.items()),
    )

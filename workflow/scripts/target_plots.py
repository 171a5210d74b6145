"""Rule `target_plots`: axis genes across samples, per-sample axis scores, the axis x contrast evidence grid."""

import anndata as ad
import pandas as pd
from target_rationale.core.jobs import script_logging
from target_rationale.targets.plots import write_target_plots

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_target_plots(
        qc=ad.read_h5ad(snakemake.input.qc),
        scores=pd.read_csv(snakemake.input.scores, sep="\t", dtype={"sample": str, "patient": str}),
        table=pd.read_csv(snakemake.input.axes, sep="\t", keep_default_na=False),
        axes=snakemake.params.axes,
        group=snakemake.params.group,
        annotate=snakemake.params.annotate,
        out=dict(snakemake.output.items()),
    )

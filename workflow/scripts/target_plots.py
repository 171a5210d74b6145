"""Rule `target_plots`: axis genes across samples, per-sample axis scores, the axis x contrast evidence grid."""

import anndata as ad
import pandas as pd
from target_rationale.axes import load_targets
from target_rationale.plots import write_target_plots
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    targets = load_targets(snakemake.input.targets)
    write_target_plots(
        qc=ad.read_h5ad(snakemake.input.qc),
        scores=pd.read_csv(snakemake.input.scores, sep="\t", dtype={"sample": str, "patient": str}),
        table=pd.read_csv(snakemake.input.axes, sep="\t", keep_default_na=False),
        axes={name: list(axis.genes) for name, axis in targets.axes.items()},
        group=snakemake.params.group,
        annotate=snakemake.params.annotate,
        out=dict(snakemake.output.items()),
    )

"""Rule `axis_scores`: per-sample activity score of every target axis (scanpy score_genes on the VST)."""

import anndata as ad
from target_rationale.core.jobs import script_logging
from target_rationale.targets.scores import write_scores

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_scores(
        qc=ad.read_h5ad(snakemake.input.qc),
        axes=snakemake.params.axes,
        seed=snakemake.params.seed,
        out_scores=snakemake.output.scores,
    )

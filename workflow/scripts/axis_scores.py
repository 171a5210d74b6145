"""Rule `axis_scores`: per-sample activity score of every target axis (scanpy score_genes on the VST)."""

import anndata as ad
from target_rationale.axes import load_targets, write_scores
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_scores(
        qc=ad.read_h5ad(snakemake.input.qc),
        targets=load_targets(snakemake.input.targets),
        seed=snakemake.params.seed,
        out_scores=snakemake.output.scores,
    )

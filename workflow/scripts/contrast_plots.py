"""Rule `contrast_plots`: MA and volcano plot of one contrast."""

from target_rationale.core.io import read_tsv
from target_rationale.core.jobs import script_logging
from target_rationale.diffexp.plots import write_contrast_plots

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_contrast_plots(
        table=read_tsv(snakemake.input.table),
        contrast_label=snakemake.params.label,
        alpha=snakemake.params.alpha,
        lfc_threshold=snakemake.params.lfc_threshold,
        highlight=snakemake.params.highlight,
        out=dict(snakemake.output.items()),
    )

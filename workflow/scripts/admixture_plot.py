"""Rule `admixture_plot`: host-tissue fraction per sample with its interval, by site."""

from target_rationale.admixture.plots import plot_host_fractions
from target_rationale.core.jobs import script_logging
from target_rationale.core.plotting import save_figure
from target_rationale.core.tsv import read_tsv

with script_logging(snakemake.log[0], outputs=snakemake.output):
    save_figure(plot_host_fractions(read_tsv(snakemake.input.table), snakemake.params.variable),
                snakemake.output.admixture, snakemake.output.admixture_svg)

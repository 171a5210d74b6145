"""Rule `dispersion_plot`: gene-wise, fitted and final dispersions of one model fit."""

from target_rationale.de import read_fit
from target_rationale.plots import plot_dispersions, save_figure
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    save_figure(plot_dispersions(read_fit(snakemake.input.fit).var), snakemake.output.png, snakemake.output.svg)

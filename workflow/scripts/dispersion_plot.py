"""Rule `dispersion_plot`: gene-wise, fitted and final dispersions of one model fit."""

from target_rationale.core.jobs import script_logging
from target_rationale.core.plotting import save_figure
from target_rationale.diffexp.model import read_fit
from target_rationale.diffexp.plots import plot_dispersions

with script_logging(snakemake.log[0], outputs=snakemake.output):
    save_figure(plot_dispersions(read_fit(snakemake.input.fit).var), snakemake.output.dispersions,
                snakemake.output.dispersions_svg)

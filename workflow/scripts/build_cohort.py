"""Rule `cohort`: validated counts + sample sheet + gene symbols -> results/cohort/."""

import os

from target_rationale.cohort.assemble import build_cohort
from target_rationale.core.errors import input_errors_reported
from target_rationale.core.jobs import script_logging
from target_rationale.planning import TARGETS_CHECK_VARIABLE, targets_symbol_check

# Inputs imported by an earlier job (`cohort:` in the config) are first validated here, before any computation:
# each problem is printed as an `Input error:` line, as the workflow prints them before any job. So are the
# symbols of the targets file the parse could not check (see the rule).
with script_logging(snakemake.log[0], outputs=snakemake.output), input_errors_reported():
    build_cohort(
        counts_path=snakemake.input.counts,
        samples_path=snakemake.input.samples,
        gene_id_type=snakemake.params.gene_id_type,
        gene_id_map=snakemake.input.gene_id_map,
        design=snakemake.params.design or "~ 1",
        contrasts=snakemake.params.contrasts,
        min_library_size=snakemake.params.min_library_size,
        out_h5ad=snakemake.output.h5ad,
        out_genes=snakemake.output.gene_ids,
        out_samples=snakemake.output.samples,
        check=targets_symbol_check(os.environ.get(TARGETS_CHECK_VARIABLE), snakemake.input.gene_id_map),
    )

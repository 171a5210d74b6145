"""Rule `cohort`: validated counts + sample sheet + gene symbols -> results/cohort/."""

from pathlib import Path

from target_rationale.cohort.assemble import build_cohort
from target_rationale.core.errors import input_errors_reported
from target_rationale.core.jobs import LOG, script_logging
from target_rationale.planning import resolve_path, targets_symbol_check

# Inputs imported by an earlier job (`cohort:` in the config) are first validated here, before any computation:
# each problem is printed as an `Input error:` line, as the workflow prints them before any job. So are the
# targets file's symbols, which the parse checks only once the counts exist. The file is read from the config, not
# given as an input or a param: editing it must not rerun this job and everything after it.
with script_logging(snakemake.log[0], outputs=snakemake.output), input_errors_reported():
    targets = snakemake.config.get("targets")
    targets = targets and resolve_path(targets, Path(snakemake.scriptdir).resolve().parents[1])
    check = targets_symbol_check(targets, snakemake.input.gene_id_map)
    LOG.info("targets file %s: %s", targets, "its symbols are checked against the counts' genes" if check else
             "none, or not readable from this job: its symbols are not checked here")
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
        check=check,
    )

"""Rule `admixture`: each sample's share of reads from its site's host tissue, with an interval."""

import anndata as ad
from target_rationale.admixture.fractions import write_admixture
from target_rationale.admixture.reference import load_host_reference
from target_rationale.core.jobs import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_admixture(
        cohort=ad.read_h5ad(snakemake.input.cohort),
        site_hosts=snakemake.params.hosts,
        variable=snakemake.params.variable,
        reference=load_host_reference(snakemake.input.reference, snakemake.input.manifest),
        seed=snakemake.params.seed,
        out_table=snakemake.output.table,
    )

"""Rule `collection`: load one gene-set collection, check it against the cohort's genes, record provenance."""

import pandas as pd
from target_rationale.core.jobs import script_logging
from target_rationale.genesets.gmt import prepare_collection

with script_logging(snakemake.log[0], outputs=snakemake.output):
    prepare_collection(
        name=snakemake.wildcards.collection,
        gmt_path=snakemake.input.gmt,
        cohort_genes=pd.read_csv(snakemake.input.genes, sep="\t", dtype=str, keep_default_na=False),
        out_gmt=snakemake.output.gmt,
        out_manifest=snakemake.output.manifest,
    )

"""Rule `fetch_collection`: download one online gene-set collection into the cache."""

from target_rationale.core.jobs import script_logging
from target_rationale.genesets.sources.registry import fetch_collection

with script_logging(snakemake.log[0], outputs=snakemake.output):
    fetch_collection(
        spec=snakemake.params.spec,
        out_dir=snakemake.output.gmt.rsplit("/", 1)[0],
        id_map=snakemake.input.gene_id_map,
    )

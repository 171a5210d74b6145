"""Rule `fetch_collection`: download one online gene-set collection into the cache."""

from target_rationale.fetch import fetch_collection
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    fetch_collection(
        spec=snakemake.params.spec,
        out_dir=snakemake.output.gmt.rsplit("/", 1)[0],
        id_map=snakemake.input.gene_id_map,
    )

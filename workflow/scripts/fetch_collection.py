"""Rule `fetch_collection`: download one online gene-set collection into the cache."""

from target_rationale.core.jobs import script_logging
from target_rationale.genesets.sources.registry import fetch_collection, online_collections

with script_logging(snakemake.log[0], outputs=snakemake.output):
    fetch_collection(
        # the config entry of this cache folder; not a param, see the rule
        spec=online_collections(snakemake.config["genesets"])[snakemake.wildcards.cached],
        out_dir=snakemake.output.gmt.rsplit("/", 1)[0],
        id_map=snakemake.input.gene_id_map,
    )

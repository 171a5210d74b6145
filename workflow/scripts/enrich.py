"""Rule `enrich`: over-representation of up / down genes and preranked GSEA of one contrast, each collection on its
own (one table set per collection)."""

from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.jobs import LOG, script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.enrichment.analysis import write_enrichment
from target_rationale.enrichment.settings import EnrichSettings
from target_rationale.genesets.gmt import read_gmt
from target_rationale.paths import ENRICHMENT_TABLES

with script_logging(snakemake.log[0], outputs=snakemake.output):
    table = read_tsv(snakemake.input.table)
    exclude = read_liver_signature(snakemake.input.liver_signature) if snakemake.params.exclude_liver_genes \
        else set()
    for i, (collection, gmt) in enumerate(zip(snakemake.params.collections, snakemake.input.collections)):
        LOG.info("collection %s", collection)
        write_enrichment(
            table=table,
            sets=read_gmt(gmt),
            alpha=snakemake.params.alpha,
            settings=EnrichSettings.from_config(snakemake.params.settings),
            exclude=exclude,
            seed=snakemake.params.seed,
            threads=snakemake.threads,
            out={name: snakemake.output[name][i] for name in ENRICHMENT_TABLES},
        )

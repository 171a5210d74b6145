"""Rule `enrich`: over-representation of up / down genes and preranked GSEA, one contrast x one collection."""

from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.io import read_tsv
from target_rationale.core.jobs import script_logging
from target_rationale.enrichment.analysis import write_enrichment
from target_rationale.enrichment.settings import EnrichSettings
from target_rationale.genesets.gmt import read_gmt

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_enrichment(
        table=read_tsv(snakemake.input.table),
        sets=read_gmt(snakemake.input.collection),
        alpha=snakemake.params.alpha,
        settings=EnrichSettings.from_config(snakemake.params.settings),
        exclude=read_liver_signature(snakemake.input.liver_signature) if snakemake.params.exclude_liver_genes
        else set(),
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        out=dict(snakemake.output.items()),
    )

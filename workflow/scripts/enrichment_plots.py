"""Rule `enrichment_plots`: GSEA and ORA dot plots and enrichment curves of one contrast, for each collection."""

from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.jobs import script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.enrichment.plots import write_enrichment_plots
from target_rationale.genesets.gmt import read_gmt
from target_rationale.paths import ENRICHMENT_TABLES

with script_logging(snakemake.log[0], outputs=snakemake.output):
    table = read_tsv(snakemake.input.table)
    exclude = read_liver_signature(snakemake.input.liver_signature) if snakemake.params.exclude_liver_genes \
        else set()
    for i, (collection, gmt) in enumerate(zip(snakemake.params.collections, snakemake.input.collections)):
        write_enrichment_plots(
            table=table,
            sets=read_gmt(gmt),
            results={name: read_tsv(snakemake.input[name][i]) for name in ENRICHMENT_TABLES},
            gsea_fdr=snakemake.params.gsea_fdr,
            ora_fdr=snakemake.params.ora_fdr,
            curves=snakemake.params.curves,
            exclude=exclude,
            title=f"{snakemake.wildcards.contrast}, {collection}",
            out={name: files[i] for name, files in snakemake.output.items()},
        )

"""Rule `enrichment_plots`: GSEA and ORA dot plots and enrichment curves of one contrast x collection."""

from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.io import read_tsv
from target_rationale.core.jobs import script_logging
from target_rationale.enrichment.plots import write_enrichment_plots
from target_rationale.genesets.gmt import read_gmt

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_enrichment_plots(
        table=read_tsv(snakemake.input.table),
        sets=read_gmt(snakemake.input.collection),
        results={name: read_tsv(snakemake.input[name]) for name in ("ora_up", "ora_down", "gsea")},
        gsea_fdr=snakemake.params.gsea_fdr,
        ora_fdr=snakemake.params.ora_fdr,
        curves=snakemake.params.curves,
        exclude=read_liver_signature(snakemake.input.liver_signature) if snakemake.params.exclude_liver_genes
        else set(),
        title=f"{snakemake.wildcards.contrast}, {snakemake.wildcards.collection}",
        out=dict(snakemake.output.items()),
    )

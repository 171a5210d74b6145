"""Rule `enrichment_plots`: GSEA and ORA dot plots and enrichment curves of one contrast x collection."""

import pandas as pd
from target_rationale.de import read_liver_signature
from target_rationale.enrichment import EnrichmentSettings, write_enrichment_plots
from target_rationale.genesets import read_gmt
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_enrichment_plots(
        table=pd.read_csv(snakemake.input.table, sep="\t", dtype={"gene_id": str, "symbol": str}),
        sets=read_gmt(snakemake.input.collection),
        results={name: pd.read_csv(snakemake.input[name], sep="\t", keep_default_na=False, na_values=[""])
                 for name in ("ora_up", "ora_down", "gsea")},
        settings=EnrichmentSettings.from_config(snakemake.params.settings),
        exclude=read_liver_signature(snakemake.input.liver_signature) if snakemake.params.exclude_liver_genes
        else set(),
        title=f"{snakemake.wildcards.contrast}, {snakemake.wildcards.collection}",
        out=dict(snakemake.output.items()),
    )

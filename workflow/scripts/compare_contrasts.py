"""Rule `compare_contrasts`: which terms are shared by the compared contrasts and which are unique to one."""

from target_rationale.core.jobs import script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.enrichment.compare import write_comparison
from target_rationale.enrichment.plots import write_comparison_heatmap

with script_logging(snakemake.log[0], outputs=snakemake.output):
    contrasts = snakemake.params.contrasts
    comparison = write_comparison(
        gsea_tables={c: read_tsv(p) for c, p in zip(contrasts, snakemake.input.gsea)},
        ora_tables={c: {"up": read_tsv(u), "down": read_tsv(d)}
                    for c, u, d in zip(contrasts, snakemake.input.ora_up, snakemake.input.ora_down)},
        term_tables={c: read_tsv(p) for c, p in zip(contrasts, snakemake.input.camera)},
        compared=snakemake.params.compared,
        direct=snakemake.params.direct,
        fdr_threshold=snakemake.params.term_fdr,
        out_table=snakemake.output.table,
    )
    write_comparison_heatmap(comparison, contrasts, snakemake.params.term_fdr, snakemake.output.heatmap,
                             snakemake.output.heatmap_svg)

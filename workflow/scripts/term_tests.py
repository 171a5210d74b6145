"""Rule `term_tests`: camera of every term of each collection in one contrast, on the (adjusted) VST."""

import anndata as ad
from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.jobs import LOG, script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.enrichment.term_tests import write_term_tests
from target_rationale.genesets.gmt import read_gmt

with script_logging(snakemake.log[0], outputs=snakemake.output):
    qc = ad.read_h5ad(snakemake.input.qc)
    de_table = read_tsv(snakemake.input.table)
    exclude = read_liver_signature(snakemake.input.liver_signature) if snakemake.params.exclude_liver_genes \
        else set()
    for collection, gmt, out_table in zip(snakemake.params.collections, snakemake.input.collections,
                                          snakemake.output.table):
        LOG.info("collection %s", collection)
        write_term_tests(
            qc=qc,
            de_table=de_table,
            sets=read_gmt(gmt),
            contrast=snakemake.params.contrast,
            min_size=snakemake.params.min_size,
            max_size=snakemake.params.max_size,
            exclude=exclude,
            out_table=out_table,
        )

"""Rule `targets`: axis evidence per contrast, flags, uniqueness in metastases, and the therapy rationale."""

from pathlib import Path

from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.jobs import script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.targets.config import load_targets
from target_rationale.targets.evidence import with_term_tests
from target_rationale.targets.outputs import write_targets

with script_logging(snakemake.log[0], outputs=snakemake.output):
    names = [c.name for c in snakemake.params.contrasts]
    collections = snakemake.params.collections
    pairs = [(c, k) for c in names for k in collections]  # the order of expand() in the rule
    write_targets(
        de_tables={c: read_tsv(p) for c, p in zip(names, snakemake.input.de)},
        gsea_tables=with_term_tests({pair: read_tsv(p) for pair, p in zip(pairs, snakemake.input.gsea)},
                                    {pair: read_tsv(p) for pair, p in zip(pairs, snakemake.input.camera)}),
        ora_tables={**{(c, k, "up"): read_tsv(p) for (c, k), p in zip(pairs, snakemake.input.ora_up)},
                    **{(c, k, "down"): read_tsv(p) for (c, k), p in zip(pairs, snakemake.input.ora_down)}},
        targets=load_targets(snakemake.input.targets, roles=snakemake.params.roles),
        scores=read_tsv(snakemake.input.scores).set_index("sample"),
        tests=read_tsv(snakemake.input.tests),
        loo=read_tsv(snakemake.input.loo),
        boot=read_tsv(snakemake.input.bootstrap),
        contrasts=snakemake.params.contrasts,
        alpha=snakemake.params.alpha,
        pathway_fdr=snakemake.params.term_fdr,
        ora_fdr=snakemake.params.ora_fdr,
        liver_genes=read_liver_signature(snakemake.input.liver_signature),
        patients=Path(snakemake.input.patients).read_text(encoding="utf-8"),
        out=dict(snakemake.output.items()),
    )

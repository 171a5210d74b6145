"""Rule `targets`: axis evidence per contrast, flags, uniqueness in metastases, and the therapy rationale."""

import pandas as pd
from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.jobs import script_logging
from target_rationale.targets.config import load_targets
from target_rationale.targets.outputs import write_targets


def read(path):
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""], dtype={"gene_id": str, "symbol": str})


with script_logging(snakemake.log[0], outputs=snakemake.output):
    names = [c.name for c in snakemake.params.contrasts]
    collections = snakemake.params.collections
    pairs = [(c, k) for c in names for k in collections]  # the order of expand() in the rule
    write_targets(
        de_tables={c: read(p) for c, p in zip(names, snakemake.input.de)},
        gsea_tables={pair: read(p) for pair, p in zip(pairs, snakemake.input.gsea)},
        ora_tables={**{(c, k, "up"): read(p) for (c, k), p in zip(pairs, snakemake.input.ora_up)},
                    **{(c, k, "down"): read(p) for (c, k), p in zip(pairs, snakemake.input.ora_down)}},
        targets=load_targets(snakemake.input.targets),
        scores=pd.read_csv(snakemake.input.scores, sep="\t", dtype=str).set_index("sample").apply(
            pd.to_numeric, errors="ignore"),
        contrasts=snakemake.params.contrasts,
        alpha=snakemake.params.alpha,
        gsea_fdr=snakemake.params.gsea_fdr,
        ora_fdr=snakemake.params.ora_fdr,
        liver_genes=read_liver_signature(snakemake.input.liver_signature),
        out=dict(snakemake.output.items()),
    )

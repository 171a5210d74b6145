"""What the rules call: rule ``axis_scores`` (:func:`write_scores`), rule ``axis_tests``
(:func:`~.axis_test.write_axis_tests`) and rule ``targets`` (:func:`write_targets`),
each computing its tables with the stage's modules and writing them atomically, with a log line per result."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from target_rationale.cohort.design import Contrast
from target_rationale.core.io import write_atomic, write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.targets.config import Targets, infer_direct
from target_rationale.targets.evidence import genes_table
from target_rationale.targets.flags import axes_table, loo_flags
from target_rationale.targets.rationale import first_in_fits, rationale, rationale_markdown


def write_targets(de_tables: Mapping[str, pd.DataFrame], gsea_tables: Mapping[tuple[str, str], pd.DataFrame],
                  ora_tables: Mapping[tuple[str, str, str], pd.DataFrame], targets: Targets, scores: pd.DataFrame,
                  contrasts: Iterable[Contrast], alpha: float, pathway_fdr: float, ora_fdr: float,
                  liver_genes: set[str], out: Mapping[str, str], tests: pd.DataFrame | None = None,
                  loo: pd.DataFrame | None = None, boot: pd.DataFrame | None = None,
                  patients: str = "") -> pd.DataFrame:
    """Rule ``targets``: the axes, genes and rationale tables and the readable rationale.

    ``pathway_fdr`` is the threshold of the ``fdr`` of ``gsea_tables``: the term test's (``enrichment.term_fdr``)
    when they come from :func:`~.evidence.with_term_tests`, as in the workflow. With the leave-one-out tests
    (``loo``) and the bootstrap tests (``boot``) the axes table counts the fits that agree with each flag and the
    rationale table how many fits rank each therapy first (``first_in_loo`` of ``loo_fits``, ``first_in_boot`` of
    ``boot_fits``). ``patients`` (the patient stage's markdown summary) becomes the rationale's Patients section.
    """
    contrasts = list(contrasts)
    axis_names = list(targets.axes)
    sheet = scores.drop(columns=[c for c in axis_names if c in scores.columns])
    targets, _ = infer_direct(targets, contrasts)
    fits = {kind: loo_flags(refits, targets, targets.metastasis_vs_primary, key)
            for kind, key, refits in (("loo", "left_out", loo), ("boot", "replicate", boot))
            if refits is not None and len(refits)}
    table = axes_table(de_tables, gsea_tables, ora_tables, targets, scores=scores[axis_names], sheet=sheet,
                       contrasts=contrasts, alpha=alpha, gsea_fdr=pathway_fdr, ora_fdr=ora_fdr, liver_genes=liver_genes,
                       tests=tests, loo_fits=fits.get("loo"), boot_fits=fits.get("boot"))
    ranked = rationale(table, targets)
    for kind, refits in fits.items():
        first = first_in_fits(refits, table, targets, kind)
        ranked[f"first_in_{kind}"] = ranked["therapy"].map(first).fillna(0).astype(int)
        ranked[f"{kind}_fits"] = first.attrs["fits"]
        LOG.info("%s: %s ranked first in %d of %d fits", kind, ranked.loc[0, "therapy"],
                 ranked.loc[0, f"first_in_{kind}"], first.attrs["fits"])
    for row in table.itertuples():
        LOG.info("%s / %s: flag %s%s", row.contrast, row.axis, row.flag, f" ({row.unique})" if row.unique else "")
    if ranked["rank"].notna().any():
        LOG.info("best therapy: %s (%s)", ranked.loc[0, "therapy"], ranked.loc[0, "why"])
    else:
        LOG.info("no therapy covers an axis flagged up in %s", targets.judged)
    write_tsv(table, out["axes"])
    write_tsv(genes_table(de_tables, targets, alpha), out["genes"])
    write_tsv(ranked, out["rationale"])
    text = rationale_markdown(table, ranked, targets)
    if patients.strip():
        text += "\n" + patients.strip() + "\n"
    write_atomic(out["markdown"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return table

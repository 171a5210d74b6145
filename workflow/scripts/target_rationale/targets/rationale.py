"""The therapy rationale: which single drugs and pairs of drugs cover the axes flagged up in the metastasis
contrast (:func:`rationale`), and a readable account citing the numbers behind each flag
(:func:`rationale_markdown`). Pure: tables in, tables or text out."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from target_rationale.targets.config import DOWN, NONE, UP, Drug, Targets
from target_rationale.targets.evidence import join_cell, split_cell

RATIONALE_COLUMNS = ["rank", "therapy", "drugs", "n_drugs", "covers", "uncovered", "n_covered", "n_flagged",
                     "covers_all", "redundant", "receptors_hit"]
def flagged_axes(table: pd.DataFrame, contrast: str, direction: str = UP) -> list[str]:
    """Axes flagged ``direction`` in ``contrast``, in table order."""
    rows = table.loc[(table["contrast"] == contrast) & (table["flag"] == direction)]
    return list(dict.fromkeys(rows["axis"]))


def rationale(table: pd.DataFrame, targets: Targets) -> pd.DataFrame:
    """Which single drugs and pairs of drugs cover the axes flagged up in the metastasis contrast.

    A drug covers an axis when it targets at least one of the axis' receptors (ligands and markers are not drug
    targets). Only axes flagged ``up`` count: inhibiting a down-regulated axis is no rationale.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~.flags.axes_table` output (``contrast, axis, flag``).
    targets : Targets

    Returns
    -------
    pandas.DataFrame
        One row per drug and per pair of drugs (pairs named in config order, ``surufatinib + gefitinib``):
        ``rank, therapy, drugs, n_drugs, covers, uncovered`` (';'-joined axes), ``n_covered, n_flagged,
        covers_all`` (every flagged axis covered; False when none is flagged), ``redundant`` (a pair whose
        second drug adds no covered axis over one of its drugs alone) and ``receptors_hit``
        (``VEGFR: FLT1,KDR,FLT4; FGFR: FGFR1``). Sorted by ``n_covered`` descending, then ``n_drugs``, then
        ``therapy``.

    Raises
    ------
    ValueError
        If the metastasis contrast is not in ``table``.
    """
    if not (table["contrast"] == targets.metastasis).any():
        raise ValueError(f"contrast {targets.metastasis!r} (targets contrasts.metastasis) is not in the axes table "
                         f"(contrasts: {', '.join(dict.fromkeys(table['contrast']))})")
    flagged = [a for a in flagged_axes(table, targets.metastasis) if a in targets.axes]
    drugs = list(targets.drugs.values())

    def covered(combo: Sequence[Drug]) -> dict[str, list[str]]:
        hit = {g for d in combo for g in d.targets}
        return {a: [r for r in targets.axes[a].receptors if r in hit] for a in flagged
                if hit & set(targets.axes[a].receptors)}

    rows = []
    for combo in [(d,) for d in drugs] + list(itertools.combinations(drugs, 2)):
        hits = covered(combo)
        alone = [set(covered((d,))) for d in combo]
        rows.append({"therapy": " + ".join(d.name for d in combo), "drugs": join_cell(d.name for d in combo),
                     "n_drugs": len(combo), "covers": join_cell(hits),
                     "uncovered": join_cell(a for a in flagged if a not in hits),
                     "n_covered": len(hits), "n_flagged": len(flagged),
                     "covers_all": bool(flagged) and len(hits) == len(flagged),
                     "redundant": len(combo) > 1 and any(s == set(hits) for s in alone),
                     "receptors_hit": "; ".join(f"{a}: {','.join(r)}" for a, r in hits.items())})
    result = pd.DataFrame(rows, columns=RATIONALE_COLUMNS[1:])
    result = result.sort_values(["n_covered", "n_drugs", "therapy"], ascending=[False, True, True],
                                kind="mergesort", ignore_index=True)
    result.insert(0, "rank", np.arange(1, len(result) + 1))
    return result


def first_in_fits(fits: Mapping[str, pd.DataFrame], targets: Targets, kind: str = "loo") -> pd.Series:
    """How many refits rank each therapy first (:func:`rationale` of each fit's flags).

    ``fits`` is :func:`~.flags.loo_flags` output (leave-one-out or bootstrap: ``kind``); fits without the
    metastasis contrast are skipped. The Series is indexed by therapy and named ``first_in_<kind>``; its
    ``attrs['fits']`` is the number of fits ranked.
    """
    counts: dict[str, int] = {}
    ranked_fits = 0
    for flags in fits.values():
        if not (flags["contrast"] == targets.metastasis).any():
            continue
        ranked_fits += 1
        ranked = rationale(flags, targets)
        if len(ranked):
            counts[ranked.loc[0, "therapy"]] = counts.get(ranked.loc[0, "therapy"], 0) + 1
    result = pd.Series(counts, name=f"first_in_{kind}", dtype=int)
    result.attrs["fits"] = ranked_fits
    return result


def _finite(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _p(value: float) -> str:
    """A p-value or FDR for text: ``0.002``, ``1.0e-05``, ``n/a``."""
    if not _finite(value):
        return "n/a"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.2g}"


#: The refits whose agreement the tables count: column prefix and how the text names them.
REFITS = (("loo", "leave-one-patient-out fits"), ("boot", "bootstrap resamples of the patients"))


def refit_counts(row: Mapping, agree: str) -> list[str]:
    """``"k/n <refits>"`` for each refit kind of :data:`REFITS` that ``row`` has: ``n`` from ``<kind>_fits``,
    ``k`` from the column ``agree`` names with ``{kind}`` filled in (``unique_{kind}_agree``,
    ``first_in_{kind}``); none where the kind was not run."""
    counts = []
    for kind, name in REFITS:
        fits, agreed = row.get(f"{kind}_fits"), row.get(agree.format(kind=kind))
        if _finite(fits) and int(fits) > 0 and _finite(agreed):
            counts.append(f"{int(agreed)}/{int(fits)} {name}")
    return counts


def axis_sentence(row: Mapping, primary_row: Mapping | None, primary: str) -> str:
    """One sentence on one axis in one contrast, citing the numbers behind its flag."""
    contrast, axis = row["contrast"], row["axis"]
    if row["flag"] in (UP, DOWN):
        head = f"{axis}: {row['flag']} in {contrast}"
        label = row.get("unique") or ""
        primary_flag = primary_row["flag"] if primary_row is not None else None
        if label == "unique":
            head += f" (unique: not flagged in {primary})"
        elif label == "unconfirmed":
            head += f" (not flagged in {primary}, but metastases do not differ from primaries: not called unique)"
        elif label == "shared":
            head += f" (shared: also {primary_flag} in {primary})"
        elif label.startswith("shared_stronger_in_"):
            head += f" (shared: also {primary_flag} in {primary}, stronger in {label.rsplit('_', 1)[1]})"
        elif label == "opposite":
            head += f" (opposite: {primary_flag} in {primary})"
        elif label == "unknown":
            head += f" (no {primary} result to compare)"
        kept = refit_counts(row, "unique_{kind}_agree" if label else "flag_{kind}_agree")
        if kept:
            head += f" [{label.replace('_', ' ') if label else row['flag']} in {', '.join(kept)}]"
    else:
        head = f"{axis}: not flagged in {contrast}"
    parts = []
    if _finite(row.get("test_p", np.nan)):
        parts.append(f"axis test: mean log2 change {row['test_effect']:+.2f} over {int(row['test_n_genes'])} genes, "
                     f"fry p = {_p(row['test_p'])} (Holm {_p(row['test_p_holm'])})")
    measured = int(row["n_genes_measured"])
    up_genes = split_cell(row["receptors_up"]) + split_cell(row["ligands_up"])
    down_genes = split_cell(row["receptors_down"]) + split_cell(row["ligands_down"])
    gene_text = f"{row['n_genes_up']} of {measured} measured receptors/ligands up"
    if up_genes:
        gene_text += f" ({', '.join(up_genes)})"
    gene_text += f", {row['n_genes_down']} down"
    if down_genes:
        gene_text += f" ({', '.join(down_genes)})"
    if int(row["n_genes"]) > measured:
        gene_text += f", {int(row['n_genes']) - measured} not measured"
    parts.append(gene_text + f" [genes vote {row['vote_genes']}]")
    if row["best_term"]:
        parts.append(f"{row['best_term']} NES {row['best_nes']:.2f} (term-test FDR {_p(row['best_fdr'])}, "
                     f"{row['best_term_collection']}); {row['n_terms_up']} up / {row['n_terms_down']} down of "
                     f"{row['n_terms_found']} term(s) found [pathway vote {row['vote_pathway']}]")
    else:
        parts.append(f"no axis gene set tested [pathway vote {row['vote_pathway']}]")
    if _finite(row["score_p"]):
        test = row.get("score_test") or "Mann-Whitney"
        parts.append(f"score {row['score_diff']:+.2f} ({test} p = {_p(row['score_p'])}, Hedges' g "
                     f"{row['score_hedges_g']:.2f}, n = {row['n_target']} vs {row['n_reference']}) "
                     f"[score vote {row['vote_score']}]")
    else:
        parts.append(f"no score comparison [score vote {row['vote_score']}]")
    return head + "; " + "; ".join(parts) + "."


def rationale_markdown(table: pd.DataFrame, ranked: pd.DataFrame, targets: Targets, top: int = 10) -> str:
    """A readable account: one sentence per axis in the metastasis contrast, the ranked therapies, the caveats.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~.flags.axes_table` output.
    ranked : pandas.DataFrame
        :func:`rationale` output.
    targets : Targets
    top : int
        Therapies listed (those covering at least one flagged axis, best first).

    Returns
    -------
    str
        Markdown text.
    """
    rule = targets.flag
    met = table.loc[table["contrast"] == targets.metastasis]
    prim = table.loc[table["contrast"] == targets.primary].set_index("axis")
    lines = ["# Target axes and therapy rationale", "",
             f"Axes are judged in `{targets.metastasis}`; uniqueness against `{targets.primary}` (confirmed by "
             f"the direct metastasis-vs-primary contrast when the config has one). An axis is flagged when the "
             f"calibrated axis test (limma's fry on the variance-stabilised counts, the contrast's design) has a "
             f"Holm-adjusted p < {rule.alpha:g} across axes x contrasts and a mean log2 change of at least "
             f"{rule.min_effect:g}. Reported evidence next to it: genes (>= {rule.min_genes} receptors/ligands "
             f"significant one way, >= {rule.min_receptors} of them receptors), pathway (>= {rule.min_terms} axis "
             f"gene set(s) significant in the term test that way), score (p < {rule.score_p:g} for the "
             f"per-sample axis score: signed-rank on patients' pairs, or Mann-Whitney).", "", "## Axes", ""]
    for _, row in met.iterrows():
        primary_row = prim.loc[row["axis"]] if row["axis"] in prim.index else None
        lines.append("- " + axis_sentence(row, primary_row, targets.primary))
    flagged = flagged_axes(table, targets.metastasis)
    lines += ["", "## Therapies", ""]
    if not flagged:
        lines.append(f"No axis is flagged up in `{targets.metastasis}`: no drug is supported by this evidence.")
    else:
        lines.append(f"Flagged up in `{targets.metastasis}`: {', '.join(flagged)}. Ranked by flagged axes covered "
                     "(a drug covers an axis when it targets one of its receptors), then by number of drugs:")
        lines.append("")
        shown = ranked.loc[(ranked["n_covered"] > 0) & ~ranked["redundant"]].head(top)
        for _, r in shown.iterrows():
            text = f"{r['rank']}. {r['therapy']}: covers {r['n_covered']} of {r['n_flagged']}"
            text += f" ({r['covers'].replace(';', ', ')}; receptors hit {r['receptors_hit']})"
            if r["rank"] == 1:
                kept = refit_counts(r, "first_in_{kind}")
                if kept:
                    text += f"; ranked first in {', '.join(kept)}"
            if r["uncovered"]:
                text += f"; leaves {r['uncovered'].replace(';', ', ')} uncovered"
            lines.append(text + ".")
        if shown.empty:
            lines.append("No configured drug targets a receptor of a flagged axis.")
    lines += ["", "## Caveats", ""]
    for _, row in met.iterrows():
        if row["caveat"]:
            lines.append(f"- {row['axis']}: {row['caveat']}")
    for _, row in table.iterrows():
        if row["liver_caveat"] and row["flag"] != NONE:
            lines.append(f"- {row['axis']} in {row['contrast']}: {row['liver_caveat']}.")
        if row.get("host_caveat") and row["flag"] != NONE:
            lines.append(f"- {row['axis']} in {row['contrast']}: {row['host_caveat']}.")
    skipped = {row["axis"]: row["terms_skipped"] for _, row in met.iterrows() if row["terms_skipped"]}
    for axis, terms in skipped.items():
        lines.append(f"- {axis}: gene sets not tested (collection not loaded or set too small): "
                     f"{terms.replace(';', ', ')}.")
    lines.append("- Expression evidence shows that an axis is changed in bulk tissue, not that tumour cells depend on "
                 "it.")
    return "\n".join(lines) + "\n"

"""The therapy rationale: which single drugs and pairs of drugs cover the axes flagged up in the judged contrast
(metastasis vs normal, or metastasis vs primary in a cohort without normal tissue), ranked by the evidence
(:func:`rationale`), and a readable account citing the numbers behind each flag and each rank
(:func:`rationale_markdown`). Pure: tables in, tables or text out."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from target_rationale.targets.config import DOWN, NONE, UP, Drug, Targets
from target_rationale.targets.evidence import join_cell, split_cell
from target_rationale.targets.flags import compartment, markers_moved

RATIONALE_COLUMNS = ["rank", "therapy", "drugs", "n_drugs", "covers", "uncovered", "n_covered", "n_flagged",
                     "covers_all", "redundant", "receptors_hit", "coverage", "max_coverage", "evidence",
                     "unsupported_hits", "why"]
#: Weight of a covered axis by its uniqueness label (``unique`` of the axes table); any other label weighs 1.
UNIQUE_WEIGHTS = {"unique": 2.0, "shared_stronger_in_metastasis": 1.5}
#: Factor on the weight of an axis whose evidence rests on its cell-type markers (``compartment``).
MICROENVIRONMENT_WEIGHT = 0.5
#: Cap on one axis' evidence strength, -log10 of its Holm-adjusted test p-value.
EVIDENCE_CAP = 10.0
#: How the therapy sentence names an axis' uniqueness label.
LABEL_WORDS = {"unique": "unique to metastasis", "shared": "shared", "unconfirmed": "not confirmed unique",
               "shared_stronger_in_metastasis": "shared, stronger in metastasis",
               "shared_stronger_in_primary": "shared, stronger in primaries", "": "up"}


def flagged_axes(table: pd.DataFrame, contrast: str, direction: str = UP) -> list[str]:
    """Axes flagged ``direction`` in ``contrast``, in table order."""
    rows = table.loc[(table["contrast"] == contrast) & (table["flag"] == direction)]
    return list(dict.fromkeys(rows["axis"]))


def axis_weight(unique: str, compartment: str) -> float:
    """The weight a covered axis adds to a therapy's coverage: :data:`UNIQUE_WEIGHTS` of its uniqueness label
    (1 otherwise), times :data:`MICROENVIRONMENT_WEIGHT` when its evidence rests on its cell-type markers."""
    weight = UNIQUE_WEIGHTS.get(unique, 1.0)
    return weight * (MICROENVIRONMENT_WEIGHT if compartment == "microenvironment" else 1.0)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def flagged_evidence(table: pd.DataFrame, targets: Targets) -> pd.DataFrame:
    """The axes flagged up in the judged contrast (``targets.judged``) with what the ranking reads.

    Returns
    -------
    pandas.DataFrame
        Indexed by axis (table order): ``unique``, ``compartment``, ``weight`` (:func:`axis_weight`),
        ``evidence`` (-log10 of ``test_p_holm``, capped at :data:`EVIDENCE_CAP`; 0 without a test) and
        ``supported`` (``receptors_supported``, :func:`~.flags.supported_receptors`: a drug covers the axis
        only through them).
    """
    rows = table.loc[(table["contrast"] == targets.judged) & (table["flag"] == UP)
                     & table["axis"].isin(list(targets.axes))].drop_duplicates("axis")
    out = []
    for row in rows.to_dict("records"):
        unique, where = _text(row.get("unique")), _text(row.get("compartment"))
        p = row.get("test_p_holm", np.nan)
        evidence = min(EVIDENCE_CAP, -np.log10(max(float(p), 1e-300))) if _finite(p) else 0.0
        out.append({"axis": row["axis"], "unique": unique, "compartment": where,
                    "weight": axis_weight(unique, where), "evidence": evidence,
                    "supported": tuple(split_cell(row.get("receptors_supported")))})
    return pd.DataFrame(out, columns=["axis", "unique", "compartment", "weight", "evidence", "supported"]
                        ).set_index("axis")


def rationale(table: pd.DataFrame, targets: Targets) -> pd.DataFrame:
    """Which single drugs and pairs of drugs cover the axes flagged up in the judged contrast, ranked by the
    evidence.

    A drug covers a flagged axis only through the axis' receptors with evidence of their own
    (``receptors_supported``: within the flagged axis, up with a Holm-adjusted DE p below alpha; ligands and
    markers are not drug targets, and a receptor that did not move is no reason to inhibit it). Only axes
    flagged ``up`` count: inhibiting a down-regulated axis is no rationale. Each covered axis adds its weight
    (:func:`axis_weight`: an axis unique to metastasis counts twice a shared one, one whose evidence rests on
    its cell-type markers half).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~.flags.axes_table` output (``contrast, axis, flag, unique, compartment, test_p_holm,
        receptors_supported``; missing columns count as empty).
    targets : Targets

    Returns
    -------
    pandas.DataFrame
        One row per drug and per pair of drugs (pairs named in config order, ``surufatinib + gefitinib``):
        ``rank`` (NA for a therapy covering no flagged axis, which is never named, and for a redundant pair),
        ``therapy, drugs, n_drugs,
        covers, uncovered`` (';'-joined axes), ``n_covered, n_flagged, covers_all`` (every flagged axis
        covered; False when none is flagged), ``redundant`` (a pair whose second drug adds no covered axis over
        one of its drugs alone), ``receptors_hit`` (``VEGFR: FLT1,KDR; FGFR: FGFR1``: receptors with evidence),
        ``coverage`` (sum of the covered axes' weights) of ``max_coverage``, ``evidence`` (sum of the covered
        axes' -log10 Holm p), ``unsupported_hits`` (flagged axes' receptors the therapy hits without evidence:
        not counted) and ``why`` (one sentence). Sorted by coverage (descending), drugs (fewer first), evidence
        (descending); therapies equal in all three share a rank and keep config order, never name order.

    Raises
    ------
    ValueError
        If the judged contrast is not in ``table``.
    """
    if not (table["contrast"] == targets.judged).any():
        raise ValueError(f"contrast {targets.judged!r} (the targets stage's judged contrast) is not in the axes "
                         f"table (contrasts: {', '.join(dict.fromkeys(table['contrast']))})")
    axes = flagged_evidence(table, targets)
    drugs = list(targets.drugs.values())
    flagged = list(axes.index)
    supported = {a: [r for r in targets.axes[a].receptors if r in axes.loc[a, "supported"]] for a in flagged}

    def covered(combo: Sequence[Drug]) -> dict[str, list[str]]:
        hit = {g for d in combo for g in d.targets}
        return {a: [r for r in supported[a] if r in hit] for a in flagged if hit & set(supported[a])}

    rows = []
    for combo in [(d,) for d in drugs] + list(itertools.combinations(drugs, 2)):
        hits = covered(combo)
        alone = [set(covered((d,))) for d in combo]
        targeted = {g for d in combo for g in d.targets}
        unsupported = [f"{a}: {','.join(r)}" for a in flagged
                       if (r := [g for g in targets.axes[a].receptors if g in targeted and g not in supported[a]])]
        row = {"therapy": " + ".join(d.name for d in combo), "drugs": join_cell(d.name for d in combo),
               "n_drugs": len(combo), "covers": join_cell(hits),
               "uncovered": join_cell(a for a in flagged if a not in hits),
               "n_covered": len(hits), "n_flagged": len(flagged),
               "covers_all": bool(flagged) and len(hits) == len(flagged),
               "redundant": len(combo) > 1 and any(s == set(hits) for s in alone),
               "receptors_hit": "; ".join(f"{a}: {','.join(r)}" for a, r in hits.items()),
               "coverage": float(sum(axes.loc[a, "weight"] for a in hits)),
               "max_coverage": float(axes["weight"].sum()),
               "evidence": round(float(sum(axes.loc[a, "evidence"] for a in hits)), 6),
               "unsupported_hits": "; ".join(unsupported)}
        row["why"] = therapy_reason(row, axes)
        rows.append(row)
    result = pd.DataFrame(rows, columns=RATIONALE_COLUMNS[1:])
    result = result.sort_values(["coverage", "n_drugs", "evidence"], ascending=[False, True, False],
                                kind="mergesort", ignore_index=True)
    key = list(zip(result["coverage"], result["n_drugs"], result["evidence"]))
    first = {}
    for position, k in enumerate(key, start=1):
        first.setdefault(k, position)
    rank = pd.array([first[k] for k in key], dtype="Int64")
    unranked = (result["n_covered"] == 0) | result["redundant"]
    rank[unranked.to_numpy()] = pd.NA
    ranks = pd.Series(rank)
    ranked = ranks.notna()  # ranks counted over the ranked therapies only: 1, 2, 2, 4, ...
    ranks[ranked] = ranks[ranked].rank(method="min").astype(int)
    rank = pd.array(ranks, dtype="Int64")
    result.insert(0, "rank", rank)
    return result


def therapy_reason(row: Mapping, axes: pd.DataFrame) -> str:
    """One sentence on why a therapy ranks where it does: what it covers with which weight and through which
    receptors, its coverage, drugs and evidence, and the receptors it hits without evidence."""
    parts = []
    for hit in filter(None, row["receptors_hit"].split("; ")):
        axis, receptors = hit.split(": ")
        label = LABEL_WORDS.get(axes.loc[axis, "unique"], axes.loc[axis, "unique"])
        if axes.loc[axis, "compartment"] == "microenvironment":
            label += ", microenvironment"
        parts.append(f"{axis} ({label}; weight {axes.loc[axis, 'weight']:g}) through {receptors.replace(',', ', ')}")
    if parts:
        text = (f"covers {'; '.join(parts)}: coverage {row['coverage']:g} of {row['max_coverage']:g} with "
                f"{row['n_drugs']} drug(s), evidence {row['evidence']:.1f}")
    else:
        text = "covers no flagged axis through a receptor with evidence"
    if row["unsupported_hits"]:
        text += f"; hits {row['unsupported_hits']} without evidence (not counted)"
    if row["redundant"]:
        text += "; its second drug adds no axis"
    return text


def first_in_fits(fits: Mapping[str, pd.DataFrame], table: pd.DataFrame, targets: Targets, kind: str = "loo"
                  ) -> pd.Series:
    """How many refits rank each therapy first (:func:`rationale` of each fit's flags).

    ``fits`` is :func:`~.flags.loo_flags` output (leave-one-out or bootstrap: ``kind``): each fit's flags,
    uniqueness labels and Holm p-values replace the full data's in ``table`` (the gene-level evidence is the
    full data's). Fits without the judged contrast are skipped; a fit whose best therapy covers nothing counts
    for none. The Series is indexed by therapy and named ``first_in_<kind>``; its ``attrs['fits']`` is the
    number of fits ranked.
    """
    counts: dict[str, int] = {}
    ranked_fits = 0
    base = table.set_index(["contrast", "axis"])
    for flags in fits.values():
        if not (flags["contrast"] == targets.judged).any():
            continue
        ranked_fits += 1
        refit = base.copy()
        fitted = flags.set_index(["contrast", "axis"])
        for column in ("flag", "unique", "test_p_holm"):
            if column in fitted.columns:
                refit[column] = fitted[column].reindex(refit.index)
        refit["flag"] = refit["flag"].fillna(NONE)
        if "marker_effect" in refit.columns:
            refit["compartment"] = [compartment(r["flag"], float(r["marker_effect"]), targets.flag.min_effect,
                                                markers_moved(r, r["flag"])) for r in refit.to_dict("records")]
        ranked = rationale(refit.reset_index(), targets)
        if len(ranked) and ranked.loc[0, "n_covered"] > 0:
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
        label = _text(row.get("unique"))
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
        kept = refit_counts(row, "flag_{kind}_agree")  # a borderline "not flagged" shows in its refits too
        if kept:
            head += f" [not flagged in {', '.join(kept)}]"
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


def judged_sentence(targets: Targets) -> str:
    """Where the axes are judged and what shared / unique means there (the rationale's first sentence)."""
    if targets.compares:
        direct = (f"confirmed by `{targets.metastasis_vs_primary}`" if targets.metastasis_vs_primary else
                  "a difference in significance only: the config has no metastasis-vs-primary contrast")
        return f"Axes are judged in `{targets.judged}`; uniqueness against `{targets.primary}` ({direct})."
    if targets.metastasis:
        return (f"Axes are judged in `{targets.judged}`; no primary contrast is named, so shared / unique are not "
                "called.")
    return (f"Axes are judged in `{targets.judged}`: up in metastases relative to primaries (the cohort has no normal "
            "tissue, so shared / unique are not called).")


def rationale_markdown(table: pd.DataFrame, ranked: pd.DataFrame, targets: Targets, top: int = 10) -> str:
    """A readable account: one sentence per axis in the judged contrast, the ranked therapies with one sentence
    each on why they rank there, the caveats.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~.flags.axes_table` output.
    ranked : pandas.DataFrame
        :func:`rationale` output.
    targets : Targets
    top : int
        Therapies listed (those covering at least one flagged axis and not redundant, best first).

    Returns
    -------
    str
        Markdown text.
    """
    rule = targets.flag
    judged = targets.judged
    met = table.loc[table["contrast"] == judged]
    prim = table.loc[table["contrast"] == targets.primary].set_index("axis") if targets.compares else None
    lines = ["# Target axes and therapy rationale", "",
             judged_sentence(targets) + " An axis is flagged when the calibrated axis test (limma's fry on the "
             f"variance-stabilised counts, the contrast's design) has a Holm-adjusted p < {rule.alpha:g} across "
             f"axes x contrasts and a mean log2 change of at least {rule.min_effect:g}. Reported evidence next to "
             f"it: genes (>= {rule.min_genes} receptors/ligands significant one way, >= {rule.min_receptors} of "
             f"them receptors), pathway (>= {rule.min_terms} axis gene set(s) significant in the term test that "
             f"way), score (p < {rule.score_p:g} for the per-sample axis score: signed-rank on patients' pairs, or "
             "Mann-Whitney).", "", "## Axes", ""]
    for _, row in met.iterrows():
        primary_row = prim.loc[row["axis"]] if prim is not None and row["axis"] in prim.index else None
        sentence = axis_sentence(row, primary_row, str(targets.primary))
        if _text(row.get("compartment")) == "microenvironment":
            sentence = sentence[:-1] + (f"; its cell-type markers move with it (mean log2 change "
                                        f"{row['marker_effect']:+.2f}): microenvironment, weighted "
                                        f"{MICROENVIRONMENT_WEIGHT:g} in the ranking.")
        lines.append("- " + sentence)
    flagged = flagged_axes(table, judged)
    lines += ["", "## Therapies", ""]
    if not flagged:
        lines.append(f"No axis is flagged up in `{judged}`: no drug is supported by this evidence.")
    else:
        lines.append(f"Flagged up in `{judged}`: {', '.join(flagged)}. A drug covers an axis only through the "
                     "axis' receptors with evidence of their own (within the flagged axis, up with a Holm-adjusted DE "
                     "p-value below alpha over its receptors). Ranked by coverage (each covered axis "
                     f"weighs 1; unique to metastasis {UNIQUE_WEIGHTS['unique']:g}, shared and stronger in "
                     f"metastasis {UNIQUE_WEIGHTS['shared_stronger_in_metastasis']:g}; times "
                     f"{MICROENVIRONMENT_WEIGHT:g} when its markers move with it), then fewer drugs, then evidence "
                     "(the covered axes' -log10 Holm p); equal therapies share a rank:")
        lines.append("")
        shown = ranked.loc[ranked["rank"].notna()].head(top)
        for _, r in shown.iterrows():
            text = f"{r['rank']}. {r['therapy']}: {r['why']}"
            if r["rank"] == 1:
                kept = refit_counts(r, "first_in_{kind}")
                if kept:
                    text += f"; ranked first in {', '.join(kept)}"
            if r["uncovered"]:
                text += f"; leaves {r['uncovered'].replace(';', ', ')} uncovered"
            lines.append(text + ".")
        if shown.empty:
            lines.append("No configured drug targets a receptor with evidence of a flagged axis: no therapy is "
                         "named.")
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

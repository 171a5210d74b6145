"""The flag rule: is a signalling axis (EGFR, VEGFR, FGFR, CSF1R, or one a user adds) changed in a contrast, and
is that unique to metastasis.

The flag comes from the calibrated axis test (:mod:`.axis_test`, limma's fry on the variance-stabilised matrix
with the contrast's design): :func:`calibrated_flags` flags an axis ``up`` / ``down`` when its Holm-adjusted p-value
across axes x contrasts is below ``flag.alpha`` and its mean log2 change reaches ``flag.min_effect``.
:func:`uniqueness` then compares the flags of the metastasis and primary contrasts with the direct
metastasis-vs-primary contrast when the config has one (:func:`unique_label`; a cohort without normal tissue
names only the direct contrast and gets no labels). For the ranking, :func:`compartment` says whether a flagged
axis' cell-type markers move with it and :func:`supported_receptors` which of its receptors have evidence of their
own.

Three lines of evidence per contrast x axis stay in the table as reported evidence, each voting ``up`` / ``down``
/ ``none`` (their combination is ``vote_flag``; it was the flag before the calibrated test, and is the flag when
no test table is given):

* genes: DE of the axis' receptors and ligands (:func:`gene_vote` on :func:`~.evidence.gene_evidence`);
* pathway: preranked GSEA of the axis' gene sets, by term id across collections (:func:`pathway_vote` on
  :func:`~.evidence.pathway_evidence`);
* score: a per-sample axis score on the VST matrix compared between the contrast's groups (:func:`score_vote` on
  :func:`~.scores.score_contrast`).

:func:`flag` combines the votes under a :class:`~.config.FlagRule` (``config/targets.yaml`` ``flag:``), and
:func:`axes_table` puts test, evidence, votes, flags and caveats in one table. Everything here is pure: tables in,
tables out.

Bulk RNA measures tissue, not tumour cells: VEGFR receptors mostly reflect endothelium and CSF1R macrophages,
and liver metastases carry normal liver. The axes table carries each axis' ``caveat`` and a ``liver_caveat``
when the evidence rests on hepatocyte-signature genes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from target_rationale.cohort.design import Contrast, direct_between
from target_rationale.targets.axis_test import TEST_COLUMNS
from target_rationale.targets.config import CORE_ROLES, DOWN, NONE, ROLES, UP, FlagRule, Targets, infer_direct
from target_rationale.targets.evidence import (
    PATHWAY_COLUMNS,
    genes_table,
    join_cell,
    no_pathway_evidence,
    pathway_evidence,
    split_cell,
)
from target_rationale.targets.score_stats import SCORE_COLUMNS, score_contrast

AXES_COLUMNS = ["contrast", "axis", "role", "flag", "unique", "compartment", "loo_fits", "flag_loo_agree",
                "unique_loo_agree",
                "boot_fits", "flag_boot_agree", "unique_boot_agree",
                *TEST_COLUMNS[2:], "test_p_holm", "vote_flag",
                "vote_genes", "vote_pathway", "vote_score",
                "n_genes", "n_genes_measured", "n_genes_up", "n_genes_down", "receptors_up", "receptors_down",
                "receptors_supported",
                "ligands_up", "ligands_down", "markers_up", "markers_down", "marker_effect", "not_measured",
                *PATHWAY_COLUMNS[2:], *SCORE_COLUMNS[2:], "liver_caveat", "host_caveat", "caveat"]
#: Host share of a gene's reads from which a significant axis gene is named in the host caveat.
HOST_CAVEAT_SHARE = 0.25


def _count(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if np.isfinite(number) else 0


def gene_vote(gene_ev: pd.DataFrame | None, rule: FlagRule | None = None) -> str:
    """Gene line of one contrast x axis: ``up`` when at least ``min_genes`` receptors + ligands are up, at least
    ``min_receptors`` of them receptors, and fewer than ``min_genes`` are down (mirror for ``down``); else
    ``none``. Markers do not count. ``rule`` defaults to the schema's (:meth:`FlagRule.from_config`)."""
    rule = FlagRule.from_config() if rule is None else rule
    if gene_ev is None or gene_ev.empty:
        return NONE
    core = gene_ev.loc[gene_ev["role"].isin(CORE_ROLES)]
    counts = {d: int((core["direction"] == d).sum()) for d in (UP, DOWN)}
    receptors = {d: int(((core["direction"] == d) & (core["role"] == "receptor")).sum()) for d in (UP, DOWN)}
    for d, other in ((UP, DOWN), (DOWN, UP)):
        if counts[d] >= rule.min_genes and receptors[d] >= rule.min_receptors and counts[other] < rule.min_genes:
            return d
    return NONE


def pathway_vote(pathway_ev: Mapping | None, rule: FlagRule | None = None) -> str:
    """Pathway line: ``up`` when ``n_terms_up >= min_terms`` and ``n_terms_down < min_terms`` (mirror for
    ``down``); else ``none`` (also when no gene-set table was loaded). ``rule`` defaults to the schema's."""
    rule = FlagRule.from_config() if rule is None else rule
    if pathway_ev is None:
        return NONE
    up, down = _count(pathway_ev.get("n_terms_up")), _count(pathway_ev.get("n_terms_down"))
    if up >= rule.min_terms and down < rule.min_terms:
        return UP
    if down >= rule.min_terms and up < rule.min_terms:
        return DOWN
    return NONE


def score_vote(score_ev: Mapping | None, rule: FlagRule | None = None) -> str:
    """Score line: the sign of ``score_diff`` when ``score_p < score_p`` (the rule's); else ``none`` (also
    without scores). ``rule`` defaults to the schema's."""
    rule = FlagRule.from_config() if rule is None else rule
    if score_ev is None:
        return NONE
    p, diff = score_ev.get("score_p", np.nan), score_ev.get("score_diff", np.nan)
    if p is None or diff is None or not (np.isfinite(p) and np.isfinite(diff)) or p >= rule.score_p or diff == 0:
        return NONE
    return UP if diff > 0 else DOWN


def combine_votes(votes: Iterable[str], min_lines: int | None = None) -> str:
    """``up`` (``down``) when at least ``min_lines`` votes are up (down) and none is the opposite; else ``none``.

    ``min_lines`` defaults to the schema's (``flag.min_lines``).
    """
    min_lines = FlagRule.from_config().min_lines if min_lines is None else min_lines
    votes = list(votes)
    up, down = votes.count(UP), votes.count(DOWN)
    if up >= min_lines and down == 0:
        return UP
    if down >= min_lines and up == 0:
        return DOWN
    return NONE


def flag(gene_ev: pd.DataFrame | None, pathway_ev: Mapping | None, score_ev: Mapping | None,
         rule: FlagRule | None = None) -> str:
    """Flag of one contrast x axis from its three evidence lines.

    Parameters
    ----------
    gene_ev : pandas.DataFrame or None
        The :func:`~.evidence.gene_evidence` rows of this contrast x axis (``role``, ``direction``).
    pathway_ev : mapping or None
        The :func:`~.evidence.pathway_evidence` row (``n_terms_up``, ``n_terms_down``); None when no gene sets
        were loaded.
    score_ev : mapping or None
        The :func:`~.scores.score_contrast` row (``score_p``, ``score_diff``); None without scores.
    rule : FlagRule, optional
        By default the schema's (:meth:`FlagRule.from_config`).

    Returns
    -------
    str
        ``up`` / ``down`` when at least ``rule.min_lines`` of :func:`gene_vote`, :func:`pathway_vote` and
        :func:`score_vote` vote that direction and none votes the opposite; else ``none``.
    """
    rule = FlagRule.from_config() if rule is None else rule
    return combine_votes([gene_vote(gene_ev, rule), pathway_vote(pathway_ev, rule), score_vote(score_ev, rule)],
                         rule.min_lines)


def holm(p_values: pd.Series) -> pd.Series:
    """Holm's step-down adjustment of the finite p-values (NaN stays NaN), in the input's order."""
    finite = p_values.dropna().astype(float)
    order = finite.sort_values(kind="mergesort")
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate(order.to_numpy() * (m - np.arange(m))))
    return pd.Series(adjusted, index=order.index).reindex(p_values.index)


def calibrated_flags(tests: pd.DataFrame, rule: FlagRule | None = None) -> pd.DataFrame:
    """Flags of the calibrated axis test.

    Parameters
    ----------
    tests : pandas.DataFrame
        :data:`~.axis_test.TEST_COLUMNS` rows (one per contrast x axis; all of them form the Holm family).
    rule : FlagRule, optional
        ``alpha`` and ``min_effect``; by default the schema's.

    Returns
    -------
    pandas.DataFrame
        ``tests`` with ``test_p_holm`` and ``flag``: the sign of ``test_effect`` when ``test_p_holm < alpha`` and
        ``|test_effect| >= min_effect``, else ``none``.
    """
    rule = FlagRule.from_config() if rule is None else rule
    out = tests.copy()
    out["test_p_holm"] = holm(out["test_p"])
    effect = out["test_effect"].astype(float)
    passed = (out["test_p_holm"] < rule.alpha) & (effect.abs() >= rule.min_effect)
    out["flag"] = np.where(passed, np.where(effect > 0, UP, DOWN), NONE)
    return out


#: Uniqueness labels (column ``unique`` of the metastasis rows).
UNIQUE_LABELS = ("unique", "unconfirmed", "shared", "shared_stronger_in_metastasis", "shared_stronger_in_primary",
                 "opposite", "none", "unknown")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def unique_label(metastasis_flag: str, primary_flag: str | None, direct_flag: str | None = None) -> str:
    """Where an axis' flag in the metastasis contrast stands against the primary contrast.

    Parameters
    ----------
    metastasis_flag, primary_flag : str
        Flags vs normal tissue (``primary_flag`` None: no primary row).
    direct_flag : str, optional
        The flag in the direct metastasis-vs-primary contrast; None when the config has no such contrast (the
        labels are then a difference in significance: ``unique``, ``shared``, ``opposite``).

    Returns
    -------
    str
        With a direct contrast: ``unique`` (flagged in metastasis, not in primary, and flagged the same way in
        metastasis vs primary), ``unconfirmed`` (flagged in metastasis only, but metastasis vs primary does not
        differ: a difference in significance is not a difference), ``shared`` (flagged the same way in both,
        not different between them), ``shared_stronger_in_metastasis`` / ``shared_stronger_in_primary`` (flagged
        in both and metastasis vs primary differs that way), ``opposite``; always ``none`` (not flagged in
        metastasis) and ``unknown`` (no primary row).
    """
    if metastasis_flag not in (UP, DOWN):
        return NONE
    if _missing(primary_flag):
        return "unknown"
    if primary_flag not in (UP, DOWN):
        if _missing(direct_flag):
            return "unique"
        return "unique" if direct_flag == metastasis_flag else "unconfirmed"
    if primary_flag != metastasis_flag:
        return "opposite"
    if _missing(direct_flag) or direct_flag == NONE:
        return "shared"
    return "shared_stronger_in_metastasis" if direct_flag == metastasis_flag else "shared_stronger_in_primary"


def direct_contrast(contrasts: Iterable[Contrast], metastasis: str, primary: str) -> str | None:
    """The contrast with the metastasis contrast's target as target and the primary contrast's target as
    reference, on the same variable (``liver_met_vs_primary``), or None when the config has none."""
    return direct_between(contrasts, primary, metastasis)


def uniqueness(flags: pd.DataFrame, metastasis: str, primary: str, direct: str | None = None) -> pd.Series:
    """Whether each axis' flag in the metastasis contrast is unique to it (:func:`unique_label`).

    Parameters
    ----------
    flags : pandas.DataFrame
        ``contrast, axis, flag`` rows.
    metastasis, primary : str
        Contrast names.
    direct : str, optional
        The direct metastasis-vs-primary contrast (:func:`direct_contrast`).

    Returns
    -------
    pandas.Series
        Indexed by the axes of the metastasis contrast (named ``unique``).
    """
    def flags_of(name: str | None) -> pd.Series:
        return flags.loc[flags["contrast"] == name].drop_duplicates("axis").set_index("axis")["flag"]

    met, prim = flags_of(metastasis), flags_of(primary)
    direct_flags = flags_of(direct) if direct else None
    labels = [unique_label(f, prim.get(axis), None if direct_flags is None else direct_flags.get(axis, NONE))
              for axis, f in met.items()]
    return pd.Series(labels, index=met.index, name="unique", dtype=object)


def unique_column(flags: pd.DataFrame, targets: Targets, direct: str | None = None) -> np.ndarray:
    """The ``unique`` column of ``contrast, axis, flag`` rows: :func:`uniqueness` on the metastasis rows when
    both tumour-vs-normal roles are named (``direct``: the metastasis-vs-primary contrast, when in ``flags``),
    empty elsewhere and always without them (no shared / unique to call)."""
    labels = np.full(len(flags), "", dtype=object)
    if targets.compares:
        is_met = (flags["contrast"] == targets.metastasis).to_numpy()
        unique = uniqueness(flags, str(targets.metastasis), str(targets.primary),
                            direct if direct in set(flags["contrast"]) else None)
        labels[is_met] = flags.loc[is_met, "axis"].map(unique).to_numpy()
    return labels


def loo_flags(loo: pd.DataFrame, targets: Targets, direct: str | None, key: str = "left_out"
              ) -> dict[str, pd.DataFrame]:
    """The flags and uniqueness labels of every refit: leave-one-out (:func:`~.axis_test.leave_one_out` rows,
    ``key`` ``left_out``) or bootstrap (:func:`~.axis_test.bootstrap`, ``key`` ``replicate``).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``{fit: contrast, axis, flag, test_p_holm, unique}``; Holm is taken within each fit, as on the full data.
    """
    fits = {}
    for fit, block in loo.groupby(key, sort=False):
        flags = calibrated_flags(block.drop(columns=key), targets.flag)[["contrast", "axis", "flag", "test_p_holm"]]
        flags = flags.reset_index(drop=True)
        flags["unique"] = unique_column(flags, targets, direct)
        fits[str(fit)] = flags
    return fits


def stability(table: pd.DataFrame, fits: Mapping[str, pd.DataFrame], kind: str = "loo") -> pd.DataFrame:
    """How many refits (:func:`loo_flags`) agree with the full data's flag (and uniqueness label) per contrast x
    axis.

    Returns
    -------
    pandas.DataFrame
        ``<kind>_fits`` (fits in which the contrast could be tested), ``flag_<kind>_agree`` and, on the rows
        with a uniqueness label, ``unique_<kind>_agree``; aligned with ``table``'s rows.
    """
    keys = list(zip(table["contrast"], table["axis"]))
    n = dict.fromkeys(keys, 0)
    flag_agree = dict.fromkeys(keys, 0)
    unique_agree = dict.fromkeys(keys, 0)
    full = table.set_index(["contrast", "axis"])
    for flags in fits.values():
        for row in flags.itertuples():
            key = (row.contrast, row.axis)
            if key not in n:
                continue
            n[key] += 1
            flag_agree[key] += row.flag == full.loc[key, "flag"]
            unique_agree[key] += row.unique == full.loc[key, "unique"]
    has_label = table["unique"].astype(str).ne("").to_numpy()
    return pd.DataFrame({f"{kind}_fits": [n[k] for k in keys], f"flag_{kind}_agree": [flag_agree[k] for k in keys],
                         f"unique_{kind}_agree": [unique_agree[k] if label else pd.NA
                                                  for k, label in zip(keys, has_label)]},
                        index=table.index).astype({f"unique_{kind}_agree": "Int64"})


def compartment(flag_value: str, marker_effect: float, min_effect: float, markers_moved: bool = True) -> str:
    """Whether a flagged axis' evidence rests on its cell-type markers: ``microenvironment`` when the mean log2
    change of its measured markers has the flag's sign and at least ``min_effect`` and at least one marker is
    itself significant that way (``markers_moved``: the marker cells, e.g. endothelium or macrophages, change
    with the axis: read it as tissue composition), ``no_marker_shift`` when the markers do not, ``no_markers``
    without measured markers; empty for an axis not flagged."""
    if flag_value not in (UP, DOWN):
        return ""
    if not np.isfinite(marker_effect):
        return "no_markers"
    sign = 1 if flag_value == UP else -1
    return "microenvironment" if sign * marker_effect >= min_effect and markers_moved else "no_marker_shift"


def markers_moved(row: Mapping, flag_value: str) -> bool:
    """Whether at least one of an axis' markers is significant (DE padj < alpha) in the flag's direction
    (``markers_up`` / ``markers_down`` of an axes-table row)."""
    if flag_value not in (UP, DOWN):
        return False
    return bool(split_cell(row.get(f"markers_{flag_value}")))


def supported_receptors(gene_ev: pd.DataFrame | None, flag_value: str, alpha: float) -> list[str]:
    """The receptors of a flagged axis with evidence of their own, the ones a drug can cover it through.

    The axis flag gatekeeps: only in a flagged axis are its measured receptors tested, by Holm on their DE
    p-values at ``alpha``; a receptor is supported when its Holm-adjusted p is below ``alpha`` and its log2
    change has the flag's sign. None for an axis not flagged.
    """
    if flag_value not in (UP, DOWN) or gene_ev is None or not len(gene_ev) or "pvalue" not in gene_ev.columns:
        return []
    receptors = gene_ev.loc[(gene_ev["role"] == "receptor") & gene_ev["measured"].astype(bool)]
    adjusted = holm(receptors["pvalue"].astype(float))
    sign = 1 if flag_value == UP else -1
    keep = (adjusted < alpha) & (sign * receptors["log2FoldChange"].astype(float) > 0)
    return [str(s) for s in receptors.loc[keep.to_numpy(), "symbol"]]


def liver_caveat(gene_ev: pd.DataFrame, pathway_ev: Mapping | None, liver_genes: set[str]) -> str:
    """Text naming the liver-signature genes an axis' evidence in a contrast rests on (empty when none).

    Counted: the axis' significant genes (``direction != none``) flagged ``liver_signature`` or in
    ``liver_genes``, and genes of ``leading_edge`` / ``ora_genes`` of ``pathway_ev`` in ``liver_genes``.
    """
    significant = gene_ev.loc[gene_ev["direction"] != NONE] if gene_ev is not None else pd.DataFrame()
    genes = sorted(significant.loc[significant["liver_signature"].astype(bool)
                                   | significant["symbol"].isin(liver_genes), "symbol"]) if len(significant) else []
    edge = sorted({g for key in ("leading_edge", "ora_genes") for g in split_cell((pathway_ev or {}).get(key))}
                  & set(liver_genes))
    parts = []
    if genes:
        parts.append(f"significant axis gene(s) {', '.join(genes)}")
    if edge:
        parts.append(f"gene-set leading edge / overlap {', '.join(edge)}")
    if not parts:
        return ""
    return ("evidence includes liver-signature genes (" + "; ".join(parts) + "): normal-liver admixture in "
            "metastasis samples can produce this")


def host_caveat(gene_ev: pd.DataFrame, min_share: float = HOST_CAVEAT_SHARE) -> str:
    """Text naming the axis genes of a contrast whose reads host tissue makes a comparable share of (empty when none).

    Named: significant genes (``direction != none``) with ``host_share >= min_share`` (with the share: up to that
    share of their signal host tissue could explain if its levels were misjudged), and genes ``host_dominated``
    (not tested). A measured gene with NaN ``host_share`` means the contrast could not be adjusted (a host
    fraction not estimable): the caveat says so.
    """
    if gene_ev is None or not len(gene_ev) or "host_share" not in gene_ev.columns:
        return ""
    measured = gene_ev.loc[gene_ev["measured"].astype(bool)]
    if measured["host_share"].isna().any():
        return ("not adjusted for host tissue (its host fraction could not be estimated): host-specific genes are "
                "left out, the others' signal may include host reads")
    significant = measured.loc[(measured["direction"] != NONE) & (measured["host_share"] >= min_share)]
    parts = [f"{r.symbol} {100 * r.host_share:.0f}%" for r in significant.itertuples()]
    dominated = sorted(measured.loc[measured["host_dominated"].astype(bool), "symbol"])
    text = []
    if parts:
        text.append("host tissue makes a comparable share of the reads of significant gene(s) " + ", ".join(parts)
                    + " (up to that share of their signal rests on the host's levels)")
    if dominated:
        text.append("host-dominated, not tested: " + ", ".join(dominated))
    return "; ".join(text)


def axes_table(de_tables: Mapping[str, pd.DataFrame], gsea_tables: Mapping[tuple[str, str], pd.DataFrame],
               ora_tables: Mapping[tuple[str, str, str], pd.DataFrame], targets: Targets,
               scores: pd.DataFrame | None = None, sheet: pd.DataFrame | None = None,
               contrasts: Iterable[Contrast] = (), *, alpha: float, gsea_fdr: float, ora_fdr: float,
               liver_genes: set[str] | None = None,
               tests: pd.DataFrame | None = None,
               loo_fits: Mapping[str, pd.DataFrame] | None = None,
               boot_fits: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The calibrated test, all evidence, the votes, the flag and the uniqueness call, one row per contrast x axis.

    Parameters
    ----------
    de_tables : mapping of str to pandas.DataFrame
        ``{contrast: DE table}``; its contrasts (in order) are the table's.
    gsea_tables, ora_tables : mapping
        As for :func:`~.evidence.pathway_evidence` (may be empty: the pathway line then votes ``none`` and every
        term is skipped).
    targets : Targets
    scores : pandas.DataFrame, optional
        Samples x axes (:func:`~.scores.axis_scores`); with ``sheet`` and ``contrasts`` it gives the score line.
    sheet : pandas.DataFrame, optional
        Sample sheet (indexed by sample or with a ``sample`` column).
    contrasts : iterable of Contrast
        Contrast definitions, matched to ``de_tables`` by name (needed for the score line).
    alpha, gsea_fdr, ora_fdr : float
        DE, GSEA and ORA significance thresholds.
    liver_genes : set of str, optional
        Liver-signature symbols (``cohort.signatures.read_liver_signature``); by default the symbols with
        ``liver_signature`` True in any DE table.
    tests : pandas.DataFrame, optional
        The axis tests (:func:`~.axis_test.axis_tests`) of the same contrasts: the flags come from them
        (:func:`calibrated_flags`). Without them the flag is the evidence lines' ``vote_flag``.
    loo_fits, boot_fits : mapping of str to pandas.DataFrame, optional
        The flags of the leave-one-out and of the bootstrap fits (:func:`loo_flags`): their agreement with the
        flags is counted (:func:`stability`).

    Returns
    -------
    pandas.DataFrame
        ``contrast, axis, role`` (the contrast's role in ``targets``, empty for others), ``flag, unique`` (set
        on the ``targets.metastasis`` rows when ``targets.primary`` is named, empty elsewhere; compared with
        the metastasis-vs-primary contrast, found in ``contrasts`` when not named), ``compartment``
        (:func:`compartment` of the flag and ``marker_effect``, the mean log2 change of the axis' measured
        markers), the test's columns and
        ``test_p_holm``, the leave-one-out and bootstrap agreement (:func:`stability`; NA without the fits),
        ``vote_flag``
        and the three votes, gene counts and ';'-joined up/down genes by role,
        the :func:`~.evidence.pathway_evidence` and :func:`~.scores.score_contrast` fields, ``liver_caveat``,
        ``host_caveat`` (:func:`host_caveat`) and the axis' ``caveat``.
    """
    if liver_genes is None:
        liver_genes = {str(s) for t in de_tables.values() if "liver_signature" in t.columns
                       for s in t.loc[t["liver_signature"].astype(bool), "symbol"]}
    definitions = {c.name: c for c in contrasts}
    score_rows: dict[tuple[str, str], Mapping] = {}
    if scores is not None and sheet is not None:
        for name in de_tables:
            if name in definitions:
                for _, row in score_contrast(scores, sheet, definitions[name]).iterrows():
                    score_rows[(name, row["axis"])] = row
    genes = genes_table(de_tables, targets, alpha)
    rows = []
    for axis in targets.axes.values():
        pathway = pathway_evidence(gsea_tables, ora_tables, axis, gsea_fdr, ora_fdr).set_index("contrast")
        for contrast in de_tables:
            ev = genes.loc[(genes["contrast"] == contrast) & (genes["axis"] == axis.name)]
            path_row = pathway.loc[contrast].to_dict() if contrast in pathway.index else None
            score_row = score_rows.get((contrast, axis.name))
            row: dict[str, Any] = {"contrast": contrast, "axis": axis.name}
            votes = {"vote_genes": gene_vote(ev, targets.flag), "vote_pathway": pathway_vote(path_row, targets.flag),
                     "vote_score": score_vote(score_row, targets.flag)}
            row["vote_flag"] = combine_votes(votes.values(), targets.flag.min_lines)
            row.update(votes)
            core = ev.loc[ev["role"].isin(CORE_ROLES)]
            markers = ev.loc[(ev["role"] == "marker") & ev["measured"].astype(bool), "log2FoldChange"]
            row["marker_effect"] = float(markers.astype(float).mean()) if len(markers) else np.nan
            row.update(n_genes=len(core), n_genes_measured=int(core["measured"].sum()),
                       n_genes_up=int((core["direction"] == UP).sum()),
                       n_genes_down=int((core["direction"] == DOWN).sum()),
                       not_measured=join_cell(ev.loc[~ev["measured"], "symbol"]))
            for role in ROLES:
                for d in (UP, DOWN):
                    row[f"{role}s_{d}"] = join_cell(ev.loc[(ev["role"] == role) & (ev["direction"] == d), "symbol"])
            pathway_row = path_row if path_row is not None else no_pathway_evidence(axis)
            row.update({c: pathway_row[c] for c in PATHWAY_COLUMNS[2:]})
            row.update({c: (score_row[c] if score_row is not None else np.nan) for c in SCORE_COLUMNS[2:]})
            row["liver_caveat"] = liver_caveat(ev, path_row, liver_genes)
            row["host_caveat"] = host_caveat(ev)
            row["caveat"] = axis.caveat
            rows.append(row)
    table = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(de_tables)}
    table = table.iloc[np.argsort(table["contrast"].map(order).to_numpy(), kind="mergesort")].reset_index(drop=True)
    if tests is not None and len(tests):
        tests = tests.reindex(columns=list(dict.fromkeys([*tests.columns, *TEST_COLUMNS])))  # older tables
        tested = calibrated_flags(tests, targets.flag).set_index(["contrast", "axis"])
        keys = pd.MultiIndex.from_frame(table[["contrast", "axis"]])
        for column in [*TEST_COLUMNS[2:], "test_p_holm"]:
            table[column] = tested[column].reindex(keys).to_numpy()
        table["flag"] = tested["flag"].reindex(keys).fillna(NONE).to_numpy()
    else:
        table["flag"] = table["vote_flag"]
    targets, _ = infer_direct(targets, definitions.values())
    table["role"] = table["contrast"].map(targets.roles).fillna("")
    table["unique"] = unique_column(table, targets, targets.metastasis_vs_primary)
    table["compartment"] = [compartment(r["flag"], float(r["marker_effect"]), targets.flag.min_effect,
                                        markers_moved(r, r["flag"])) for r in table.to_dict("records")]
    table["receptors_supported"] = [
        join_cell(supported_receptors(genes.loc[(genes["contrast"] == c) & (genes["axis"] == a)], f, alpha))
        for c, a, f in zip(table["contrast"], table["axis"], table["flag"])]
    if loo_fits:
        table = pd.concat([table, stability(table, loo_fits)], axis=1)
    if boot_fits:
        table = pd.concat([table, stability(table, boot_fits, "boot")], axis=1)
    for column in ("n_terms_found", "n_terms_up", "n_terms_down"):
        table[column] = table[column].fillna(0).astype(int)
    for column in ("n_target", "n_reference"):
        table[column] = table[column].astype("Int64")
    return table.reindex(columns=AXES_COLUMNS)

"""The comparison of contrasts: which terms are shared by the compared contrasts and which are unique to one.

With the term tests (:mod:`.term_tests`, camera) a term is significant in a contrast when its camera FDR is below
``enrichment.term_fdr``, and with two compared contrasts and the direct contrast between their groups
(``liver_met_vs_primary`` for ``primary_vs_normal`` and ``liver_met_vs_normal``) the classes are formal
(:func:`classify`): significant in one contrast is *unique* only if the direct contrast confirms the difference.
Without them the classes are a difference in significance, over GSEA FDRs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from target_rationale.core.io import write_tsv
from target_rationale.core.jobs import LOG


def _direction(signs: set[float]) -> str:
    return "up" if signs == {1.0} else "down" if signs == {-1.0} else "mixed"


def formal_class(hits: Mapping[str, float], direct_sign: float, stronger_if_up: str, stronger_if_down: str) -> str:
    """The class of one term from its significant compared contrasts (``{contrast: sign}``) and the direct
    contrast (``direct_sign``: +1 / -1 when significant, 0 when not).

    ``unique:<c>`` (significant in ``c`` only, and the direct contrast differs the way ``c``'s effect is
    stronger), ``unconfirmed:<c>`` (significant in ``c`` only, the direct contrast not confirming: a difference
    in significance), ``shared`` (significant the same way in both, the direct contrast not significant),
    ``shared_stronger_in:<c>``, ``opposite``, ``none``.
    """
    if not hits:
        return "none"
    if len(hits) == 2:
        signs = set(hits.values())
        if len(signs) > 1:
            return "opposite"
        if direct_sign == 0:
            return "shared"
        sign = signs.pop()
        return f"shared_stronger_in:{stronger_if_up if direct_sign == sign else stronger_if_down}"
    (contrast, sign), = hits.items()
    confirmed = (direct_sign == sign and contrast == stronger_if_up) or \
        (direct_sign == -sign and contrast == stronger_if_down)
    return f"{'unique' if confirmed else 'unconfirmed'}:{contrast}"


def classify(fdr: pd.DataFrame, sign: pd.DataFrame, threshold: float, direct: Mapping | None = None,
             direct_fdr: pd.Series | None = None, direct_sign: pd.Series | None = None) -> pd.DataFrame:
    """Where each term is significant among the compared contrasts.

    Parameters
    ----------
    fdr, sign : pandas.DataFrame
        Terms x compared contrasts: FDR (missing = not tested, counted as not significant) and the effect's sign
        (NES, or +1 / -1 for camera's up / down).
    threshold : float
        FDR below which a term is significant in a contrast.
    direct : mapping, optional
        :func:`~target_rationale.cohort.design.direct_comparison` of the two compared contrasts; with
        ``direct_fdr`` and ``direct_sign`` (the direct contrast's FDR and sign per term) the classes are formal
        (:func:`formal_class`).

    Returns
    -------
    pandas.DataFrame
        ``class``; without ``direct``: ``shared`` (significant the same way in every compared contrast),
        ``opposite`` (significant in every one, not the same way), ``unique:<contrast>``
        (in exactly one), ``partial:<a>+<b>`` (in several but not all), ``none``. ``direction``: ``up`` /
        ``down`` when every significant effect has that sign, ``mixed`` otherwise, empty for ``none``;
        ``n_significant``.
    """
    significant = fdr.lt(threshold).fillna(False)
    contrasts = list(fdr.columns)
    formal = direct is not None and direct_fdr is not None and direct_sign is not None
    if formal:
        confirmed = direct_fdr.reindex(fdr.index).lt(threshold).fillna(False)
        signed = np.sign(direct_sign.reindex(fdr.index).fillna(0.0)).where(confirmed, 0.0)
    classes, directions = [], []
    for term, row in significant.iterrows():
        hits = [c for c in contrasts if row[c]]
        signs = {c: float(np.sign(sign.loc[term, c])) for c in hits}
        if formal:
            classes.append(formal_class(signs, float(signed[term]), direct["stronger_if_up"],
                                        direct["stronger_if_down"]))
        elif not hits:
            classes.append("none")
        elif len(hits) == len(contrasts) and len(contrasts) > 1:
            classes.append("shared" if len(set(signs.values())) == 1 else "opposite")
        elif len(hits) == 1:
            classes.append(f"unique:{hits[0]}")
        else:
            classes.append("partial:" + "+".join(hits))
        directions.append(_direction(set(signs.values())) if hits else "")
    return pd.DataFrame({"class": classes, "direction": directions,
                         "n_significant": significant.sum(axis=1).astype(int).to_numpy()}, index=fdr.index)


def compare_contrasts(gsea_tables: dict[str, pd.DataFrame], ora_tables: dict[str, dict[str, pd.DataFrame]],
                      compared: list[str], fdr_threshold: float,
                      term_tables: dict[str, pd.DataFrame] | None = None,
                      direct: Mapping | None = None) -> pd.DataFrame:
    """One row per term: NES, GSEA FDR, term-test FDR and ORA FDRs of every contrast, and the class among the
    ``compared`` contrasts.

    Parameters
    ----------
    gsea_tables : dict
        ``{contrast: GSEA table}`` for every contrast of the collection.
    ora_tables : dict
        ``{contrast: {"up": table, "down": table}}``.
    compared : list of str
        Contrasts whose significance decides the class (e.g. the tumour-vs-normal ones).
    fdr_threshold : float
        FDR below which a term is significant in a contrast: of the term tests (``enrichment.term_fdr``) when
        ``term_tables`` are given, else of GSEA.
    term_tables : dict, optional
        ``{contrast: camera table}`` (:func:`~.term_tests.term_tests`): ``fdr_<contrast>`` then holds their FDR
        and ``direction_<contrast>`` their direction, and the GSEA FDR moves to ``gsea_fdr_<contrast>``.
    direct : mapping, optional
        :func:`~target_rationale.cohort.design.direct_comparison`; with ``term_tables`` the classes are formal.
    """
    names: dict[str, str] = {}
    nes, gsea_fdr, columns = {}, {}, []
    for contrast, table in gsea_tables.items():
        indexed = table.set_index("term_id")
        names.update(indexed["term_name"].to_dict())
        nes[contrast], gsea_fdr[contrast] = indexed["nes"], indexed["fdr"]
    nes_frame, gsea_frame = pd.DataFrame(nes), pd.DataFrame(gsea_fdr)
    tested_fdr, tested_sign = {}, {}
    for contrast, table in (term_tables or {}).items():
        indexed = table.set_index("term_id")
        names.update(indexed["term_name"].to_dict())
        tested_fdr[contrast] = indexed["fdr"]
        tested_sign[contrast] = indexed["direction"].map({"up": 1.0, "down": -1.0})
    term_frame, sign_frame = pd.DataFrame(tested_fdr), pd.DataFrame(tested_sign)
    for contrast in gsea_tables:
        columns.append(nes_frame[contrast].rename(f"nes_{contrast}"))
        if term_tables:
            columns += [gsea_frame[contrast].rename(f"gsea_fdr_{contrast}"),
                        term_frame.get(contrast, pd.Series(dtype=float)).rename(f"fdr_{contrast}"),
                        sign_frame.get(contrast, pd.Series(dtype=float)).map({1.0: "up", -1.0: "down"})
                        .rename(f"direction_{contrast}")]
        else:
            columns.append(gsea_frame[contrast].rename(f"fdr_{contrast}"))
        for direction in ("up", "down"):
            ora_table = ora_tables.get(contrast, {}).get(direction)
            if ora_table is not None:
                indexed = ora_table.set_index("term_id")
                names.update(indexed["term_name"].to_dict())
                columns.append(indexed["fdr"].rename(f"ora_{direction}_fdr_{contrast}"))
    table = pd.concat(columns, axis=1)
    table.index.name = "term_id"
    if term_tables:
        fdr = term_frame.reindex(index=table.index, columns=compared)
        sign = sign_frame.reindex(index=table.index, columns=compared)
        name = direct["contrast"] if direct else None
        formal = name in term_frame.columns if name else False
        classes = classify(fdr, sign, fdr_threshold, direct if formal else None,
                           term_frame[name] if formal else None, sign_frame[name] if formal else None)
    else:
        fdr = gsea_frame.reindex(index=table.index, columns=compared)
        classes = classify(fdr, nes_frame.reindex(index=table.index, columns=compared), fdr_threshold)
    table = pd.concat([classes, table], axis=1)
    table.insert(0, "term_name", [names.get(t, t) for t in table.index])
    table = table.assign(_best=fdr.min(axis=1)).sort_values(["n_significant", "_best"], ascending=[False, True],
                                                            kind="mergesort").drop(columns="_best")
    LOG.info("comparison over %s%s: %s", ", ".join(compared),
             f" (direct contrast {direct['contrast']})" if term_tables and direct else "",
             ", ".join(f"{k} {v}" for k, v in table["class"].value_counts().items()))
    return table.reset_index()


def write_comparison(gsea_tables: dict[str, pd.DataFrame], ora_tables: dict[str, dict[str, pd.DataFrame]],
                     compared: list[str], fdr_threshold: float, out_table: str,
                     term_tables: dict[str, pd.DataFrame] | None = None,
                     direct: Mapping | None = None) -> pd.DataFrame:
    """Rule ``compare_contrasts``: the comparison table (its heatmap is drawn by :mod:`.plots`)."""
    comparison = compare_contrasts(gsea_tables, ora_tables, compared, fdr_threshold, term_tables, direct)
    write_tsv(comparison, out_table)
    return comparison

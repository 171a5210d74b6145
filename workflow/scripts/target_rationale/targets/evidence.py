"""Gene and pathway evidence of a target axis per contrast: two of the three lines the flag rule combines.

* genes: DE of the axis' receptors and ligands (:func:`gene_evidence`, :func:`genes_table`);
* pathway: preranked GSEA (and ORA) of the axis' gene sets, by term id across collections
  (:func:`pathway_evidence`).

The third line, the per-sample axis score, is in :mod:`.scores`. Everything here is pure: tables in, tables out.
Lists inside a table cell are ';'-joined (:func:`join_cell`, :func:`split_cell`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from target_rationale.targets.config import DOWN, NONE, UP, Axis, Targets

GENE_COLUMNS = ["contrast", "axis", "symbol", "role", "gene_id", "baseMean", "log2FoldChange", "pvalue", "padj",
                "direction",
                "liver_signature", "host_share", "host_dominated", "measured"]
PATHWAY_COLUMNS = ["contrast", "axis", "terms_found", "n_terms_found", "terms_skipped", "best_term", "best_term_name",
                   "best_term_collection", "best_nes", "best_fdr", "n_terms_up", "n_terms_down", "terms_up",
                   "terms_down", "best_ora_up_term", "best_ora_up_fdr", "best_ora_down_term", "best_ora_down_fdr",
                   "leading_edge", "ora_genes"]


def join_cell(items: Iterable[str]) -> str:
    """Items as one ';'-joined table cell."""
    return ";".join(items)


def split_cell(text: Any) -> list[str]:
    """Items of a ';'-joined cell (empty for NaN / empty)."""
    if not isinstance(text, str) or not text:
        return []
    return [t for t in text.split(";") if t]


def _direction(lfc: float, padj: float, alpha: float) -> str:
    if not (np.isfinite(padj) and np.isfinite(lfc)) or padj >= alpha or lfc == 0:
        return NONE
    return UP if lfc > 0 else DOWN


def gene_evidence(de_tables: Mapping[str, pd.DataFrame], axis: Axis, alpha: float) -> pd.DataFrame:
    """DE evidence of an axis' genes, one row per contrast x gene (receptors, ligands, then markers).

    Parameters
    ----------
    de_tables : mapping of str to pandas.DataFrame
        ``{contrast: DE table}`` with ``gene_id, symbol, baseMean, log2FoldChange, padj`` and optionally
        ``liver_signature``. A symbol with several gene ids is represented by its most expressed (``baseMean``).
    axis : Axis
    alpha : float
        DE significance threshold on ``padj``.

    Returns
    -------
    pandas.DataFrame
        ``contrast, axis, symbol, role, gene_id, baseMean, log2FoldChange, pvalue, padj, direction, liver_signature,
        host_share, host_dominated, measured`` (the host columns from the DE table: 0 and False without them).
        ``direction`` is ``up`` / ``down`` when ``padj < alpha`` (by the sign of ``log2FoldChange``), else ``none``
        (also for NaN ``padj``, e.g. independent filtering). Genes absent from a table keep their
        row with NaNs and ``measured`` False.
    """
    rows = []
    for contrast, table in de_tables.items():
        ordered = table.sort_values("baseMean", ascending=False, kind="mergesort") if "baseMean" in table else table
        by_symbol = ordered.drop_duplicates("symbol").set_index("symbol")
        for symbol, role in axis.genes.items():
            if symbol in by_symbol.index:
                gene = by_symbol.loc[symbol]
                lfc, padj = float(gene["log2FoldChange"]), float(gene["padj"])
                liver = bool(gene["liver_signature"]) if "liver_signature" in by_symbol.columns else False
                share = float(gene["host_share"]) if "host_share" in by_symbol.columns else 0.0
                dominated = bool(gene["host_dominated"]) if "host_dominated" in by_symbol.columns else False
                rows.append([contrast, axis.name, symbol, role, gene.get("gene_id", np.nan),
                             float(gene.get("baseMean", np.nan)), lfc, float(gene.get("pvalue", np.nan)), padj,
                             _direction(lfc, padj, alpha), liver,
                             share, dominated, True])
            else:
                rows.append([contrast, axis.name, symbol, role, np.nan, np.nan, np.nan, np.nan, np.nan, NONE, False,
                             np.nan,
                             False, False])
    return pd.DataFrame(rows, columns=GENE_COLUMNS)


def genes_table(de_tables: Mapping[str, pd.DataFrame], targets: Targets, alpha: float) -> pd.DataFrame:
    """:func:`gene_evidence` of every axis, rows by contrast then axis (config order)."""
    parts = [gene_evidence(de_tables, axis, alpha) for axis in targets.axes.values()]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=GENE_COLUMNS)
    order = {c: i for i, c in enumerate(de_tables)}
    axis_order = {a: i for i, a in enumerate(targets.axes)}
    key = table["contrast"].map(order) * len(axis_order) + table["axis"].map(axis_order)
    return table.iloc[np.argsort(key.to_numpy(), kind="mergesort")].reset_index(drop=True)


def _stack(tables: Mapping[tuple, pd.DataFrame], contrast: str, terms: Sequence[str]) -> pd.DataFrame:
    """Rows of one contrast's tables for ``terms``, with ``collection`` (and ``side`` for ORA keys) added."""
    parts = []
    for key, table in tables.items():
        if key[0] != contrast or table is None or table.empty:
            continue
        part = table.loc[table["term_id"].astype(str).isin(terms)].copy()
        part["term_id"] = part["term_id"].astype(str)
        part["collection"] = key[1]
        if len(key) > 2:
            part["side"] = key[2]
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["term_id", "collection", "side"])


def with_term_tests(gsea_tables: Mapping[tuple[str, str], pd.DataFrame],
                    term_tables: Mapping[tuple[str, str], pd.DataFrame]) -> dict[tuple[str, str], pd.DataFrame]:
    """GSEA tables whose ``fdr`` and effect sign are the term test's (camera), for the pathway line.

    Each ``(contrast, collection)`` table keeps GSEA's ``nes`` and ``leading_edge`` (reported), moves its FDR to
    ``gsea_fdr``, and takes ``fdr`` and ``sign`` (+1 / -1) from the camera table; terms camera did not test get no
    FDR. Keys without a camera table are returned unchanged (their ``fdr`` stays GSEA's).
    """
    merged = {}
    for key, table in gsea_tables.items():
        tests = term_tables.get(key)
        if tests is None or table is None:
            merged[key] = table
            continue
        indexed = tests.set_index("term_id")
        merged[key] = table.assign(
            gsea_fdr=table["fdr"], fdr=table["term_id"].map(indexed["fdr"]),
            sign=table["term_id"].map(indexed["direction"].map({"up": 1.0, "down": -1.0})))
    return merged


def pathway_evidence(gsea_tables: Mapping[tuple[str, str], pd.DataFrame],
                     ora_tables: Mapping[tuple[str, str, str], pd.DataFrame], axis: Axis,
                     gsea_fdr: float, ora_fdr: float) -> pd.DataFrame:
    """Gene-set evidence of an axis per contrast, by term id across every loaded collection.

    Parameters
    ----------
    gsea_tables : mapping of (contrast, collection) to pandas.DataFrame
        Preranked GSEA tables (``term_id, term_name, nes, fdr, leading_edge``), or those of
        :func:`with_term_tests` (``fdr`` and ``sign`` from the term test; the sign then decides up / down).
    ora_tables : mapping of (contrast, collection, 'up' or 'down') to pandas.DataFrame
        Over-representation tables (``term_id, fdr, genes``).
    axis : Axis
    gsea_fdr, ora_fdr : float
        Significance thresholds (the enrichment settings).

    Returns
    -------
    pandas.DataFrame
        One row per contrast present in either mapping: ``terms_found`` (axis term ids in any loaded table of
        the contrast, config order) and ``terms_skipped`` (the others: not in any loaded collection, or not
        tested, e.g. below the size limits), both ';'-joined; the best term (smallest GSEA FDR, then largest
        ``|NES|``) with its name, collection, NES and FDR; ``n_terms_up`` / ``n_terms_down`` (distinct term ids
        with FDR < ``gsea_fdr`` and ``sign``, else NES, > 0 / < 0) and their ids; the best ORA-up / ORA-down term
        and FDR;
        ``leading_edge`` (union of the leading edges of the significant GSEA terms) and ``ora_genes`` (genes of
        axis terms with ORA FDR < ``ora_fdr``).
    """
    terms = list(dict.fromkeys(axis.terms))
    contrasts = list(dict.fromkeys([k[0] for k in gsea_tables] + [k[0] for k in ora_tables]))
    rows = []
    for contrast in contrasts:
        gsea = _stack(gsea_tables, contrast, terms)
        ora = _stack(ora_tables, contrast, terms)
        present = set(gsea["term_id"]) | set(ora["term_id"])
        found = [t for t in terms if t in present]
        skipped = [t for t in terms if t not in present]
        row: dict[str, Any] = {"contrast": contrast, "axis": axis.name, "terms_found": join_cell(found),
                               "n_terms_found": len(found), "terms_skipped": join_cell(skipped)}
        best = dict.fromkeys(["best_term", "best_term_name", "best_term_collection"], "")
        best.update(best_nes=np.nan, best_fdr=np.nan)
        significant = pd.DataFrame(columns=["term_id", "nes", "leading_edge"])
        if not gsea.empty:
            gsea = gsea.assign(order=gsea["term_id"].map(terms.index), abs_nes=gsea["nes"].abs())
            ranked = gsea.sort_values(["fdr", "abs_nes", "order"], ascending=[True, False, True], kind="mergesort",
                                      na_position="last")
            top = ranked.iloc[0]
            best = {"best_term": top["term_id"], "best_term_name": str(top.get("term_name", "")),
                    "best_term_collection": str(top["collection"]), "best_nes": float(top["nes"]),
                    "best_fdr": float(top["fdr"])}
            significant = ranked.loc[ranked["fdr"] < gsea_fdr]
        row.update(best)
        effect = significant["sign"] if "sign" in significant.columns else significant["nes"]
        up = [t for t in found if t in set(significant.loc[effect > 0, "term_id"])]
        down = [t for t in found if t in set(significant.loc[effect < 0, "term_id"])]
        row.update(n_terms_up=len(up), n_terms_down=len(down), terms_up=join_cell(up), terms_down=join_cell(down))
        for side in (UP, DOWN):
            part = ora.loc[ora["side"] == side] if not ora.empty else ora
            if part.empty:
                row.update({f"best_ora_{side}_term": "", f"best_ora_{side}_fdr": np.nan})
            else:
                top = part.sort_values("fdr", kind="mergesort", na_position="last").iloc[0]
                row.update({f"best_ora_{side}_term": top["term_id"], f"best_ora_{side}_fdr": float(top["fdr"])})
        edge = sorted({g for text in significant.get("leading_edge", []) for g in split_cell(text)})
        ora_sig = ora.loc[ora["fdr"] < ora_fdr] if not ora.empty else ora
        row["leading_edge"] = join_cell(edge)
        row["ora_genes"] = join_cell(sorted({g for text in ora_sig.get("genes", []) for g in split_cell(text)}))
        rows.append(row)
    return pd.DataFrame(rows, columns=PATHWAY_COLUMNS)


def no_pathway_evidence(axis: Axis) -> dict[str, Any]:
    """Pathway evidence of a contrast without any loaded gene-set table: nothing found, every term skipped."""
    empty = {c: "" for c in PATHWAY_COLUMNS[2:]}
    empty.update(n_terms_found=0, n_terms_up=0, n_terms_down=0, terms_skipped=join_cell(dict.fromkeys(axis.terms)),
                 best_nes=np.nan, best_fdr=np.nan, best_ora_up_fdr=np.nan, best_ora_down_fdr=np.nan)
    return empty

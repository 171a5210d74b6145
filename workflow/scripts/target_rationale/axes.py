"""Target axes: is a signalling axis (EGFR, VEGFR, FGFR, CSF1R, or one a user adds) changed in a contrast, is that
unique to metastasis, and which drugs, alone or in pairs, cover the axes flagged in metastasis.

Three independent lines of evidence per contrast x axis, each voting ``up`` / ``down`` / ``none``:

* genes: DE of the axis' receptors and ligands (:func:`gene_evidence`);
* pathway: preranked GSEA of the axis' gene sets, by term id across collections (:func:`pathway_evidence`);
* score: a per-sample axis score on the VST matrix compared between the contrast's groups
  (:func:`axis_scores`, :func:`score_contrast`).

:func:`flag` combines the votes under a :class:`FlagRule` (``config/targets.yaml`` ``flag:``). Axes, drugs and
the rule come from ``config/targets.yaml`` via :func:`load_targets`. Everything here is pure (tables in, tables
out) except :func:`load_targets`, which reads the YAML file and its schema.

Bulk RNA measures tissue, not tumour cells: VEGFR receptors mostly reflect endothelium and CSF1R macrophages,
and liver metastases carry normal liver. The axes table carries each axis' ``caveat`` and a ``liver_caveat``
when the evidence rests on hepatocyte-signature genes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .cohort import InputError
from .design import Contrast, select_samples

if TYPE_CHECKING:  # anndata is imported lazily: only axis_scores needs it
    import anndata as ad

#: The JSON schema of ``config/targets.yaml``.
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "targets.schema.yaml"

UP, DOWN, NONE = "up", "down", "none"
#: Gene roles in the order a gene listed under several keys is assigned (a receptor that is also a marker is a
#: receptor).
ROLES = ("receptor", "ligand", "marker")
#: Roles counted by the gene evidence line.
CORE_ROLES = ("receptor", "ligand")

GENE_COLUMNS = ["contrast", "axis", "symbol", "role", "gene_id", "baseMean", "log2FoldChange", "padj", "direction",
                "liver_signature", "measured"]
PATHWAY_COLUMNS = ["contrast", "axis", "terms_found", "n_terms_found", "terms_skipped", "best_term", "best_term_name",
                   "best_term_collection", "best_nes", "best_fdr", "n_terms_up", "n_terms_down", "terms_up",
                   "terms_down", "best_ora_up_term", "best_ora_up_fdr", "best_ora_down_term", "best_ora_down_fdr",
                   "leading_edge", "ora_genes"]
SCORE_COLUMNS = ["contrast", "axis", "score_target_mean", "score_reference_mean", "score_diff", "score_hedges_g",
                 "score_p", "n_target", "n_reference"]
AXES_COLUMNS = ["contrast", "axis", "flag", "unique", "vote_genes", "vote_pathway", "vote_score",
                "n_genes", "n_genes_measured", "n_genes_up", "n_genes_down", "receptors_up", "receptors_down",
                "ligands_up", "ligands_down", "markers_up", "markers_down", "not_measured",
                *PATHWAY_COLUMNS[2:], *SCORE_COLUMNS[2:], "liver_caveat", "caveat"]
RATIONALE_COLUMNS = ["rank", "therapy", "drugs", "n_drugs", "covers", "uncovered", "n_covered", "n_flagged",
                     "covers_all", "redundant", "receptors_hit"]


# ---- configuration ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One signalling axis of ``config/targets.yaml``.

    Attributes
    ----------
    name : str
        Axis name (``EGFR``); a column name of the score table.
    receptors, ligands, markers : tuple of str
        Gene symbols. Receptors and ligands make the gene evidence line; markers (cell types) are reported and
        scored only.
    terms : tuple of str
        Gene-set term ids in any collection (``GO:0007173``, ``hsa04012``, ``WP673``, ``HALLMARK_ANGIOGENESIS``).
    caveat : str
        Text shown with the axis (what bulk RNA can show about it).
    """

    name: str
    receptors: tuple[str, ...]
    ligands: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    caveat: str = ""

    @property
    def genes(self) -> dict[str, str]:
        """``{symbol: role}`` in the order receptors, ligands, markers; a gene listed twice keeps its first role."""
        roles: dict[str, str] = {}
        for role, symbols in zip(ROLES, (self.receptors, self.ligands, self.markers)):
            for symbol in symbols:
                roles.setdefault(symbol, role)
        return roles


@dataclass(frozen=True)
class Drug:
    """A drug and the genes it inhibits (matched against the axes' receptors)."""

    name: str
    targets: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class FlagRule:
    """How three evidence lines make a flag (``config/targets.yaml`` ``flag:``; defaults as in the schema).

    Attributes
    ----------
    min_genes : int
        Gene line: at least this many receptors + ligands significant (DE padj < alpha) in one direction, and
        fewer than this many in the other, for the line to vote that direction. Default 2: one gene is too easily
        noise or one cell type.
    min_receptors : int
        Gene line: at least this many of the genes counted in the voting direction must be receptors (drugs act
        on receptors; ligands alone do not make a target). Default 1; 0 lets ligands alone vote.
    min_terms : int
        Pathway line: at least this many of the axis' terms significant in GSEA (FDR < gsea_fdr) with that NES
        sign, and fewer than this many with the other sign. Default 1: axes have few, overlapping gene sets.
    score_p : float
        Score line: two-sided Mann-Whitney p-value below which the line votes the sign of the score difference.
        Default 0.05.
    min_lines : int
        Lines that must vote one direction, with none voting the other, for a flag. Default 2 (of 3): no axis is
        flagged on a single kind of evidence.
    """

    min_genes: int = 2
    min_receptors: int = 1
    min_terms: int = 1
    score_p: float = 0.05
    min_lines: int = 2


@dataclass(frozen=True)
class Targets:
    """The whole of ``config/targets.yaml``: axes and drugs in file order, the flag rule and the two contrasts.

    Attributes
    ----------
    metastasis : str
        Contrast whose up-flagged axes the therapies should cover.
    primary : str
        Contrast against which an axis flagged in ``metastasis`` is called unique (not flagged here).
    """

    axes: dict[str, Axis]
    drugs: dict[str, Drug]
    flag: FlagRule = field(default_factory=FlagRule)
    metastasis: str = "liver_met_vs_normal"
    primary: str = "primary_vs_normal"


def _key(path: Iterable[Any]) -> str:
    """``drugs.crizotinib.targets[0]`` from a jsonschema error path (``(top level)`` when empty)."""
    parts = list(path)
    text = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(parts))
    return text or "(top level)"


def targets_problems(data: Any, schema: Mapping) -> list[str]:
    """One line per way ``data`` breaks the targets ``schema``, each naming the key (empty if none)."""
    import jsonschema

    if not isinstance(data, Mapping):
        return [f"(top level): expected a mapping with keys axes, drugs, flag, contrasts; got {type(data).__name__}"]
    problems = []
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(data), key=lambda e: ([str(p) for p in e.absolute_path], e.message)):
        key = _key(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            problems.append(f"{key}: unknown key(s) {', '.join(repr(u) for u in unknown)}; allowed keys are "
                            f"{', '.join(allowed)}")
        elif error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            problems.append(f"{key}: missing required key(s) {', '.join(repr(m) for m in missing)}")
        elif "propertyNames" in error.absolute_schema_path:
            problems.append(f"{key}: name {error.instance!r} is not allowed; use letters, digits, '_', '.', '+', '-'")
        elif error.validator == "minItems" and error.validator_value == 1:
            problems.append(f"{key}: must list at least one gene symbol")
        else:
            problems.append(f"{key}: {error.message}")
    contrasts = data.get("contrasts") or {}
    if isinstance(contrasts, Mapping) and contrasts.get("metastasis") and \
            contrasts.get("metastasis") == contrasts.get("primary"):
        problems.append(f"contrasts: metastasis and primary are both {contrasts['metastasis']!r}; name two "
                        "different contrasts")
    return problems


def parse_targets(data: Mapping) -> Targets:
    """Typed :class:`Targets` from validated ``config/targets.yaml`` content, with defaults filled in."""
    def symbols(entry: Mapping, key: str) -> tuple[str, ...]:
        return tuple(str(s) for s in (entry.get(key) or []))

    axes = {str(name): Axis(name=str(name), receptors=symbols(spec, "receptors"), ligands=symbols(spec, "ligands"),
                            terms=symbols(spec, "terms"), markers=symbols(spec, "markers"),
                            caveat=" ".join(str(spec.get("caveat") or "").split()))
            for name, spec in data["axes"].items()}
    drugs = {str(name): Drug(name=str(name), targets=symbols(spec, "targets"),
                             note=" ".join(str(spec.get("note") or "").split()))
             for name, spec in data["drugs"].items()}
    rule = FlagRule(**(data.get("flag") or {}))
    contrasts = data.get("contrasts") or {}
    defaults = Targets(axes={}, drugs={})
    return Targets(axes=axes, drugs=drugs, flag=rule, metastasis=str(contrasts.get("metastasis", defaults.metastasis)),
                   primary=str(contrasts.get("primary", defaults.primary)))


def load_targets(path: str | Path, contrasts: Iterable[str] | None = None,
                 schema_path: str | Path = SCHEMA_PATH) -> Targets:
    """Read, validate and type ``config/targets.yaml``.

    Parameters
    ----------
    path : str or path
        The targets YAML file.
    contrasts : iterable of str, optional
        Contrast names of the workflow config; when given, ``contrasts.metastasis`` and ``contrasts.primary``
        must be among them.
    schema_path : str or path
        JSON schema (draft 2020-12) to validate against; the shipped ``workflow/schemas/targets.schema.yaml``.

    Returns
    -------
    Targets

    Raises
    ------
    InputError
        One line per problem, each starting with the file and naming the key (``drugs.crizotinib: missing
        required key(s) 'targets'``).
    """
    import yaml

    path = Path(path)
    schema = yaml.safe_load(Path(schema_path).read_text())
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise InputError(f"targets file '{path}' does not exist") from err
    except yaml.YAMLError as err:
        detail = " ".join(str(err).split())
        raise InputError(f"targets file '{path}' is not valid YAML: {detail}") from err
    problems = targets_problems(data, schema)
    if not problems:
        targets = parse_targets(data)
        if contrasts is not None:
            known = list(contrasts)
            for role in ("metastasis", "primary"):
                name = getattr(targets, role)
                if name not in known:
                    problems.append(f"contrasts.{role}: {name!r} is not a contrast of the workflow config; "
                                    f"set it to one of {', '.join(known)}")
    if problems:
        raise InputError([f"targets file '{path}': {p}" for p in problems])
    return targets


# ---- evidence lines --------------------------------------------------------------------------------------------


def _join(items: Iterable[str]) -> str:
    return ";".join(items)


def _split(text: Any) -> list[str]:
    """Items of a ';'-joined cell (empty for NaN / empty)."""
    if not isinstance(text, str) or not text:
        return []
    return [t for t in text.split(";") if t]


def _direction(lfc: float, padj: float, alpha: float) -> str:
    if not (np.isfinite(padj) and np.isfinite(lfc)) or padj >= alpha or lfc == 0:
        return NONE
    return UP if lfc > 0 else DOWN


def gene_evidence(de_tables: Mapping[str, pd.DataFrame], axis: Axis, alpha: float = 0.05) -> pd.DataFrame:
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
        ``contrast, axis, symbol, role, gene_id, baseMean, log2FoldChange, padj, direction, liver_signature,
        measured``. ``direction`` is ``up`` / ``down`` when ``padj < alpha`` (by the sign of ``log2FoldChange``),
        else ``none`` (also for NaN ``padj``, e.g. independent filtering). Genes absent from a table keep their
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
                rows.append([contrast, axis.name, symbol, role, gene.get("gene_id", np.nan),
                             float(gene.get("baseMean", np.nan)), lfc, padj, _direction(lfc, padj, alpha), liver,
                             True])
            else:
                rows.append([contrast, axis.name, symbol, role, np.nan, np.nan, np.nan, np.nan, NONE, False, False])
    return pd.DataFrame(rows, columns=GENE_COLUMNS)


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


def pathway_evidence(gsea_tables: Mapping[tuple[str, str], pd.DataFrame],
                     ora_tables: Mapping[tuple[str, str, str], pd.DataFrame], axis: Axis,
                     gsea_fdr: float = 0.25, ora_fdr: float = 0.05) -> pd.DataFrame:
    """Gene-set evidence of an axis per contrast, by term id across every loaded collection.

    Parameters
    ----------
    gsea_tables : mapping of (contrast, collection) to pandas.DataFrame
        Preranked GSEA tables (``term_id, term_name, nes, fdr, leading_edge``).
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
        with GSEA FDR < ``gsea_fdr`` and NES > 0 / < 0) and their ids; the best ORA-up / ORA-down term and FDR;
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
        row: dict[str, Any] = {"contrast": contrast, "axis": axis.name, "terms_found": _join(found),
                               "n_terms_found": len(found), "terms_skipped": _join(skipped)}
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
        up = [t for t in found if t in set(significant.loc[significant["nes"] > 0, "term_id"])]
        down = [t for t in found if t in set(significant.loc[significant["nes"] < 0, "term_id"])]
        row.update(n_terms_up=len(up), n_terms_down=len(down), terms_up=_join(up), terms_down=_join(down))
        for side in (UP, DOWN):
            part = ora.loc[ora["side"] == side] if not ora.empty else ora
            if part.empty:
                row.update({f"best_ora_{side}_term": "", f"best_ora_{side}_fdr": np.nan})
            else:
                top = part.sort_values("fdr", kind="mergesort", na_position="last").iloc[0]
                row.update({f"best_ora_{side}_term": top["term_id"], f"best_ora_{side}_fdr": float(top["fdr"])})
        edge = sorted({g for text in significant.get("leading_edge", []) for g in _split(text)})
        ora_sig = ora.loc[ora["fdr"] < ora_fdr] if not ora.empty else ora
        row["leading_edge"] = _join(edge)
        row["ora_genes"] = _join(sorted({g for text in ora_sig.get("genes", []) for g in _split(text)}))
        rows.append(row)
    return pd.DataFrame(rows, columns=PATHWAY_COLUMNS)


def axis_genes(var: pd.DataFrame, axis: Axis) -> list[str]:
    """``var_names`` of an axis' measured genes (receptors, ligands, markers), matched on ``var['symbol']``
    (on the index itself when there is no ``symbol`` column)."""
    symbols = var["symbol"] if "symbol" in var.columns else pd.Series(var.index, index=var.index)
    wanted = set(axis.genes)
    return [str(g) for g, s in symbols.items() if s in wanted]


def axis_scores(qc: ad.AnnData, axes: Targets | Mapping[str, Axis] | Iterable[Axis], seed: int = 0,
                layer: str = "vst") -> pd.DataFrame:
    """Per-sample activity score of each axis on the variance-stabilised matrix.

    The score is scanpy's ``sc.tl.score_genes``: the mean of the axis' genes (receptors + ligands + markers that
    are measured) minus the mean of expression-matched random control genes (``ctrl_size`` 50 per expression
    bin, drawn with ``random_state=seed``), in the units of ``layer`` (log2 for ``vst``). It is relative: compare
    it between samples, not across axes.

    Parameters
    ----------
    qc : anndata.AnnData
        Samples x genes with ``layers[layer]`` and ``var['symbol']``.
    axes : Targets, mapping of str to Axis, or iterable of Axis
    seed : int
        Random state of the control-gene draw.
    layer : str
        Layer scored.

    Returns
    -------
    pandas.DataFrame
        Samples (``qc.obs_names``) x axes; an axis with no measured gene is all NaN.
    """
    import anndata as ad
    import scanpy as sc

    if isinstance(axes, Targets):
        axes = axes.axes
    axes = list(axes.values()) if isinstance(axes, Mapping) else list(axes)
    plain = ad.AnnData(X=np.asarray(qc.layers[layer], dtype=float), obs=pd.DataFrame(index=qc.obs_names.copy()),
                       var=pd.DataFrame(index=qc.var_names.copy()))
    scores = pd.DataFrame(index=pd.Index(qc.obs_names, name="sample"))
    for axis in axes:
        genes = axis_genes(qc.var, axis)
        if not genes:
            scores[axis.name] = np.nan
            continue
        sc.tl.score_genes(plain, gene_list=genes, score_name="axis_score", random_state=seed, use_raw=False)
        scores[axis.name] = plain.obs["axis_score"].to_numpy(dtype=float)
    return scores


def hedges_g(target: Sequence[float], reference: Sequence[float]) -> float:
    """Hedges' g of ``target`` minus ``reference``: Cohen's d with the pooled SD, times ``1 - 3 / (4 (n1 + n2) - 9)``.

    NaN with fewer than two values in a group or a zero pooled SD.
    """
    x, y = np.asarray(target, dtype=float), np.asarray(reference, dtype=float)
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        return np.nan
    pooled = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return np.nan
    return float((x.mean() - y.mean()) / pooled * (1 - 3 / (4 * (n1 + n2) - 9)))


def _indexed(sheet: pd.DataFrame) -> pd.DataFrame:
    """The sample sheet indexed by sample name (from its ``sample`` column if it has one)."""
    return sheet.set_index("sample", drop=False) if "sample" in sheet.columns else sheet


def score_contrast(scores: pd.DataFrame, sheet: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Axis scores compared between a contrast's target and reference groups.

    Parameters
    ----------
    scores : pandas.DataFrame
        Samples x axes (:func:`axis_scores`).
    sheet : pandas.DataFrame
        Sample sheet, indexed by sample or with a ``sample`` column.
    contrast : Contrast
        Groups are ``variable == target`` and ``variable == reference`` within the contrast's ``samples`` subset.

    Returns
    -------
    pandas.DataFrame
        One row per axis: ``score_target_mean``, ``score_reference_mean``, ``score_diff`` (target minus
        reference), ``score_hedges_g``, ``score_p`` (scipy two-sided Mann-Whitney U; unpaired, so it ignores
        pairing by patient and is conservative for paired designs), ``n_target``, ``n_reference``. NaN scores are
        left out; statistics are NaN when a group is empty.
    """
    from scipy.stats import mannwhitneyu

    subset = select_samples(_indexed(sheet), contrast.samples)
    values = subset[contrast.variable].astype(str)
    groups = {side: [s for s in subset.index[values == level] if s in scores.index]
              for side, level in (("target", contrast.target), ("reference", contrast.reference))}
    rows = []
    for axis in scores.columns:
        x = scores.loc[groups["target"], axis].dropna().to_numpy(dtype=float)
        y = scores.loc[groups["reference"], axis].dropna().to_numpy(dtype=float)
        p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue) if len(x) and len(y) else np.nan
        mean_x = float(x.mean()) if len(x) else np.nan
        mean_y = float(y.mean()) if len(y) else np.nan
        rows.append([contrast.name, axis, mean_x, mean_y, mean_x - mean_y, hedges_g(x, y), p, len(x), len(y)])
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


# ---- flag rule -------------------------------------------------------------------------------------------------


def _count(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if np.isfinite(number) else 0


def gene_vote(gene_ev: pd.DataFrame | None, rule: FlagRule = FlagRule()) -> str:
    """Gene line of one contrast x axis: ``up`` when at least ``min_genes`` receptors + ligands are up, at least
    ``min_receptors`` of them receptors, and fewer than ``min_genes`` are down (mirror for ``down``); else
    ``none``. Markers do not count."""
    if gene_ev is None or gene_ev.empty:
        return NONE
    core = gene_ev.loc[gene_ev["role"].isin(CORE_ROLES)]
    counts = {d: int((core["direction"] == d).sum()) for d in (UP, DOWN)}
    receptors = {d: int(((core["direction"] == d) & (core["role"] == "receptor")).sum()) for d in (UP, DOWN)}
    for d, other in ((UP, DOWN), (DOWN, UP)):
        if counts[d] >= rule.min_genes and receptors[d] >= rule.min_receptors and counts[other] < rule.min_genes:
            return d
    return NONE


def pathway_vote(pathway_ev: Mapping | None, rule: FlagRule = FlagRule()) -> str:
    """Pathway line: ``up`` when ``n_terms_up >= min_terms`` and ``n_terms_down < min_terms`` (mirror for
    ``down``); else ``none`` (also when no gene-set table was loaded)."""
    if pathway_ev is None:
        return NONE
    up, down = _count(pathway_ev.get("n_terms_up")), _count(pathway_ev.get("n_terms_down"))
    if up >= rule.min_terms and down < rule.min_terms:
        return UP
    if down >= rule.min_terms and up < rule.min_terms:
        return DOWN
    return NONE


def score_vote(score_ev: Mapping | None, rule: FlagRule = FlagRule()) -> str:
    """Score line: the sign of ``score_diff`` when ``score_p < score_p`` (the rule's); else ``none`` (also
    without scores)."""
    if score_ev is None:
        return NONE
    p, diff = score_ev.get("score_p", np.nan), score_ev.get("score_diff", np.nan)
    if p is None or diff is None or not (np.isfinite(p) and np.isfinite(diff)) or p >= rule.score_p or diff == 0:
        return NONE
    return UP if diff > 0 else DOWN


def combine_votes(votes: Iterable[str], min_lines: int = 2) -> str:
    """``up`` (``down``) when at least ``min_lines`` votes are up (down) and none is the opposite; else ``none``."""
    votes = list(votes)
    up, down = votes.count(UP), votes.count(DOWN)
    if up >= min_lines and down == 0:
        return UP
    if down >= min_lines and up == 0:
        return DOWN
    return NONE


def flag(gene_ev: pd.DataFrame | None, pathway_ev: Mapping | None, score_ev: Mapping | None,
         rule: FlagRule = FlagRule()) -> str:
    """Flag of one contrast x axis from its three evidence lines.

    Parameters
    ----------
    gene_ev : pandas.DataFrame or None
        The :func:`gene_evidence` rows of this contrast x axis (``role``, ``direction``).
    pathway_ev : mapping or None
        The :func:`pathway_evidence` row (``n_terms_up``, ``n_terms_down``); None when no gene sets were loaded.
    score_ev : mapping or None
        The :func:`score_contrast` row (``score_p``, ``score_diff``); None without scores.
    rule : FlagRule

    Returns
    -------
    str
        ``up`` / ``down`` when at least ``rule.min_lines`` of :func:`gene_vote`, :func:`pathway_vote` and
        :func:`score_vote` vote that direction and none votes the opposite; else ``none``.
    """
    return combine_votes([gene_vote(gene_ev, rule), pathway_vote(pathway_ev, rule), score_vote(score_ev, rule)],
                         rule.min_lines)


def unique_label(metastasis_flag: str, primary_flag: str | None) -> str:
    """``unique`` / ``shared`` / ``opposite`` / ``none`` for an axis' flags in the two contrasts (``unknown`` when
    it is flagged in metastasis and the primary contrast has no flag for it)."""
    if metastasis_flag not in (UP, DOWN):
        return NONE
    if primary_flag is None or (isinstance(primary_flag, float) and math.isnan(primary_flag)):
        return "unknown"
    if primary_flag == NONE:
        return "unique"
    return "shared" if primary_flag == metastasis_flag else "opposite"


def uniqueness(flags: pd.DataFrame, metastasis: str, primary: str) -> pd.Series:
    """Whether each axis' flag in the metastasis contrast is unique to it.

    Parameters
    ----------
    flags : pandas.DataFrame
        ``contrast, axis, flag`` rows.
    metastasis, primary : str
        Contrast names.

    Returns
    -------
    pandas.Series
        Indexed by the axes of the metastasis contrast (named ``unique``): ``unique`` (flagged up or down in
        metastasis, ``none`` in primary), ``shared`` (the same flag in both), ``opposite`` (up in one, down in
        the other), ``none`` (not flagged in metastasis), ``unknown`` (flagged, but no primary row for the axis).
    """
    met = flags.loc[flags["contrast"] == metastasis].set_index("axis")["flag"]
    prim = flags.loc[flags["contrast"] == primary].drop_duplicates("axis").set_index("axis")["flag"]
    return pd.Series([unique_label(f, prim.get(axis)) for axis, f in met.items()], index=met.index, name="unique",
                     dtype=object)


def liver_caveat(gene_ev: pd.DataFrame, pathway_ev: Mapping | None, liver_genes: set[str]) -> str:
    """Text naming the liver-signature genes an axis' evidence in a contrast rests on (empty when none).

    Counted: the axis' significant genes (``direction != none``) flagged ``liver_signature`` or in
    ``liver_genes``, and genes of ``leading_edge`` / ``ora_genes`` of ``pathway_ev`` in ``liver_genes``.
    """
    significant = gene_ev.loc[gene_ev["direction"] != NONE] if gene_ev is not None else pd.DataFrame()
    genes = sorted(significant.loc[significant["liver_signature"].astype(bool)
                                   | significant["symbol"].isin(liver_genes), "symbol"]) if len(significant) else []
    edge = sorted({g for key in ("leading_edge", "ora_genes") for g in _split((pathway_ev or {}).get(key))}
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


# ---- tables ----------------------------------------------------------------------------------------------------


def genes_table(de_tables: Mapping[str, pd.DataFrame], targets: Targets, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`gene_evidence` of every axis, rows by contrast then axis (config order)."""
    parts = [gene_evidence(de_tables, axis, alpha) for axis in targets.axes.values()]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=GENE_COLUMNS)
    order = {c: i for i, c in enumerate(de_tables)}
    axis_order = {a: i for i, a in enumerate(targets.axes)}
    key = table["contrast"].map(order) * len(axis_order) + table["axis"].map(axis_order)
    return table.iloc[np.argsort(key.to_numpy(), kind="mergesort")].reset_index(drop=True)


def _no_pathway(axis: Axis) -> dict[str, Any]:
    """Pathway evidence of a contrast without any loaded gene-set table: nothing found, every term skipped."""
    empty = {c: "" for c in PATHWAY_COLUMNS[2:]}
    empty.update(n_terms_found=0, n_terms_up=0, n_terms_down=0, terms_skipped=_join(dict.fromkeys(axis.terms)),
                 best_nes=np.nan, best_fdr=np.nan, best_ora_up_fdr=np.nan, best_ora_down_fdr=np.nan)
    return empty


def axes_table(de_tables: Mapping[str, pd.DataFrame], gsea_tables: Mapping[tuple[str, str], pd.DataFrame],
               ora_tables: Mapping[tuple[str, str, str], pd.DataFrame], targets: Targets,
               scores: pd.DataFrame | None = None, sheet: pd.DataFrame | None = None,
               contrasts: Iterable[Contrast] = (), alpha: float = 0.05, gsea_fdr: float = 0.25,
               ora_fdr: float = 0.05, liver_genes: set[str] | None = None) -> pd.DataFrame:
    """All evidence, the votes, the flag and the uniqueness call, one row per contrast x axis.

    Parameters
    ----------
    de_tables : mapping of str to pandas.DataFrame
        ``{contrast: DE table}``; its contrasts (in order) are the table's.
    gsea_tables, ora_tables : mapping
        As for :func:`pathway_evidence` (may be empty: the pathway line then votes ``none`` and every term is
        skipped).
    targets : Targets
    scores : pandas.DataFrame, optional
        Samples x axes (:func:`axis_scores`); with ``sheet`` and ``contrasts`` it gives the score line.
    sheet : pandas.DataFrame, optional
        Sample sheet (indexed by sample or with a ``sample`` column).
    contrasts : iterable of Contrast
        Contrast definitions, matched to ``de_tables`` by name (needed for the score line).
    alpha, gsea_fdr, ora_fdr : float
        DE, GSEA and ORA significance thresholds.
    liver_genes : set of str, optional
        Liver-signature symbols (``de.read_liver_signature``); by default the symbols with ``liver_signature``
        True in any DE table.

    Returns
    -------
    pandas.DataFrame
        ``contrast, axis, flag, unique`` (set on the ``targets.metastasis`` rows, empty elsewhere), the three
        votes, gene counts and ';'-joined up/down genes by role, the :func:`pathway_evidence` and
        :func:`score_contrast` fields, ``liver_caveat`` and the axis' ``caveat``.
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
            row["flag"] = combine_votes(votes.values(), targets.flag.min_lines)
            row.update(votes)
            core = ev.loc[ev["role"].isin(CORE_ROLES)]
            row.update(n_genes=len(core), n_genes_measured=int(core["measured"].sum()),
                       n_genes_up=int((core["direction"] == UP).sum()),
                       n_genes_down=int((core["direction"] == DOWN).sum()),
                       not_measured=_join(ev.loc[~ev["measured"], "symbol"]))
            for role in ROLES:
                for d in (UP, DOWN):
                    row[f"{role}s_{d}"] = _join(ev.loc[(ev["role"] == role) & (ev["direction"] == d), "symbol"])
            row.update({c: (path_row if path_row is not None else _no_pathway(axis))[c] for c in PATHWAY_COLUMNS[2:]})
            row.update({c: (score_row[c] if score_row is not None else np.nan) for c in SCORE_COLUMNS[2:]})
            row["liver_caveat"] = liver_caveat(ev, path_row, liver_genes)
            row["caveat"] = axis.caveat
            rows.append(row)
    table = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(de_tables)}
    table = table.iloc[np.argsort(table["contrast"].map(order).to_numpy(), kind="mergesort")].reset_index(drop=True)
    unique = uniqueness(table, targets.metastasis, targets.primary)
    is_met = table["contrast"] == targets.metastasis
    table["unique"] = ""
    table.loc[is_met, "unique"] = table.loc[is_met, "axis"].map(unique).to_numpy()
    for column in ("n_terms_found", "n_terms_up", "n_terms_down"):
        table[column] = table[column].fillna(0).astype(int)
    for column in ("n_target", "n_reference"):
        table[column] = table[column].astype("Int64")
    return table.reindex(columns=AXES_COLUMNS)


# ---- therapy rationale -----------------------------------------------------------------------------------------


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
        :func:`axes_table` output (``contrast, axis, flag``).
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
        rows.append({"therapy": " + ".join(d.name for d in combo), "drugs": _join(d.name for d in combo),
                     "n_drugs": len(combo), "covers": _join(hits), "uncovered": _join(a for a in flagged
                                                                                       if a not in hits),
                     "n_covered": len(hits), "n_flagged": len(flagged),
                     "covers_all": bool(flagged) and len(hits) == len(flagged),
                     "redundant": len(combo) > 1 and any(s == set(hits) for s in alone),
                     "receptors_hit": "; ".join(f"{a}: {','.join(r)}" for a, r in hits.items())})
    result = pd.DataFrame(rows, columns=RATIONALE_COLUMNS[1:])
    result = result.sort_values(["n_covered", "n_drugs", "therapy"], ascending=[False, True, True],
                                kind="mergesort", ignore_index=True)
    result.insert(0, "rank", np.arange(1, len(result) + 1))
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


def axis_sentence(row: Mapping, primary_row: Mapping | None, primary: str) -> str:
    """One sentence on one axis in one contrast, citing the numbers behind its flag."""
    contrast, axis = row["contrast"], row["axis"]
    if row["flag"] in (UP, DOWN):
        head = f"{axis}: {row['flag']} in {contrast}"
        label = row.get("unique") or ""
        primary_flag = primary_row["flag"] if primary_row is not None else None
        if label == "unique":
            head += f" (unique: not flagged in {primary})"
        elif label == "shared":
            head += f" (shared: also {primary_flag} in {primary})"
        elif label == "opposite":
            head += f" (opposite: {primary_flag} in {primary})"
        elif label == "unknown":
            head += f" (no {primary} result to compare)"
    else:
        head = f"{axis}: not flagged in {contrast}"
    parts = []
    measured = int(row["n_genes_measured"])
    up_genes = _split(row["receptors_up"]) + _split(row["ligands_up"])
    down_genes = _split(row["receptors_down"]) + _split(row["ligands_down"])
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
        parts.append(f"{row['best_term']} NES {row['best_nes']:.2f} (FDR {_p(row['best_fdr'])}, "
                     f"{row['best_term_collection']}); {row['n_terms_up']} up / {row['n_terms_down']} down of "
                     f"{row['n_terms_found']} term(s) found [pathway vote {row['vote_pathway']}]")
    else:
        parts.append(f"no axis gene set tested [pathway vote {row['vote_pathway']}]")
    if _finite(row["score_p"]):
        parts.append(f"score {row['score_diff']:+.2f} (p = {_p(row['score_p'])}, Hedges' g "
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
        :func:`axes_table` output.
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
             f"Axes are judged in `{targets.metastasis}`; uniqueness against `{targets.primary}`. An axis is flagged "
             f"when at least {rule.min_lines} of 3 evidence lines agree and none opposes: genes (>= "
             f"{rule.min_genes} receptors/ligands significant one way, >= {rule.min_receptors} of them receptors), "
             f"pathway (>= {rule.min_terms} axis gene set(s) significant in GSEA with that NES sign), score "
             f"(Mann-Whitney p < {rule.score_p:g} for the per-sample axis score).", "", "## Axes", ""]
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
    skipped = {row["axis"]: row["terms_skipped"] for _, row in met.iterrows() if row["terms_skipped"]}
    for axis, terms in skipped.items():
        lines.append(f"- {axis}: gene sets not tested (collection not loaded or set too small): "
                     f"{terms.replace(';', ', ')}.")
    lines.append("- Expression evidence shows that an axis is changed in bulk tissue, not that tumour cells depend on "
                 "it; the per-sample score comparison is unpaired (Mann-Whitney) and ignores pairing by patient.")
    return "\n".join(lines) + "\n"


# ---- what the rules call ---------------------------------------------------------------------------------------


def write_scores(qc: ad.AnnData, targets: Targets, seed: int, out_scores: str) -> pd.DataFrame:
    """Rule ``axis_scores``: per-sample axis scores (samples x axes) next to the sample sheet."""
    from .runtime import LOG, write_tsv

    scores = axis_scores(qc, targets, seed=seed)
    for axis in targets.axes.values():
        LOG.info("axis %s: %d of %d genes measured for its score", axis.name, len(axis_genes(qc.var, axis)),
                 len(axis.genes))
    table = pd.concat([qc.obs.drop(columns=[c for c in qc.obs.columns if c not in _sheet_columns(qc.obs)]),
                       scores], axis=1)
    table.index.name = "sample"
    write_tsv(table.reset_index(), out_scores)
    return table


def _sheet_columns(obs: pd.DataFrame) -> list[str]:
    derived = {"library_size", "detected_genes", "size_factor", "liver_score", "liver_count_share"}
    return [c for c in obs.columns if c not in derived]


def write_targets(de_tables: Mapping[str, pd.DataFrame], gsea_tables: Mapping[tuple[str, str], pd.DataFrame],
                  ora_tables: Mapping[tuple[str, str, str], pd.DataFrame], targets: Targets, scores: pd.DataFrame,
                  contrasts: Iterable[Contrast], alpha: float, gsea_fdr: float, ora_fdr: float,
                  liver_genes: set[str], out: Mapping[str, str]) -> pd.DataFrame:
    """Rule ``targets``: the axes, genes and rationale tables and the readable rationale."""
    from .runtime import LOG, write_atomic, write_tsv

    axis_names = list(targets.axes)
    sheet = scores.drop(columns=[c for c in axis_names if c in scores.columns])
    table = axes_table(de_tables, gsea_tables, ora_tables, targets, scores=scores[axis_names], sheet=sheet,
                       contrasts=contrasts, alpha=alpha, gsea_fdr=gsea_fdr, ora_fdr=ora_fdr, liver_genes=liver_genes)
    ranked = rationale(table, targets)
    for row in table.itertuples():
        LOG.info("%s / %s: flag %s%s", row.contrast, row.axis, row.flag, f" ({row.unique})" if row.unique else "")
    LOG.info("best therapy: %s (covers %s; uncovered: %s)", ranked.loc[0, "therapy"], ranked.loc[0, "covers"],
             ranked.loc[0, "uncovered"] or "none")
    write_tsv(table, out["axes"])
    write_tsv(genes_table(de_tables, targets, alpha), out["genes"])
    write_tsv(ranked, out["rationale"])
    text = rationale_markdown(table, ranked, targets)
    write_atomic(out["markdown"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return table

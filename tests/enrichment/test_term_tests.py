"""The term test (``enrichment.term_tests``, camera on the VST with the contrast's design): a planted term is
called, a term whose genes share a biopsy-to-biopsy programme but no group difference is not (where preranked
GSEA on the same data calls it), and the universe follows the DE table."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from target_rationale.cohort.design import Contrast
from target_rationale.enrichment.analysis import gsea
from target_rationale.enrichment.settings import EnrichSettings
from target_rationale.enrichment.term_tests import term_tests, term_universe
from target_rationale.genesets.gmt import GeneSet

CONTRAST = Contrast("met_vs_normal", "site", "met", "normal", "~ patient + site")


def cohort(seed: int, patients: int = 8) -> tuple[ad.AnnData, pd.DataFrame, dict[str, GeneSet]]:
    """log2 expression of 1,000 genes in a normal and a metastasis sample of each patient. 'planted' (30 genes)
    is up by 1 in metastases; 'programme' (40 genes) shares a per-biopsy factor (sd 1, loadings 0.5-1) that does
    not depend on the site; 20 random terms of 30 genes. The DE table is a per-gene paired t statistic."""
    rng = np.random.default_rng(seed)
    n = 2 * patients
    obs = pd.DataFrame({"patient": [f"p{i}" for i in range(patients)] * 2,
                        "site": ["normal"] * patients + ["met"] * patients},
                       index=[f"s{i}" for i in range(n)])
    symbols = [f"G{i}" for i in range(1000)]
    y = rng.normal(8, 2, 1000)[None, :] + rng.normal(0, 0.5, (n, 1000))
    y += np.tile(rng.normal(0, 0.3, (patients, 1000)), (2, 1))
    y[patients:, :30] += 1.0
    y[:, 30:70] += rng.normal(0, 1.0, n)[:, None] * rng.uniform(0.5, 1.0, 40)[None, :]
    qc = ad.AnnData(X=np.zeros_like(y), obs=obs, var=pd.DataFrame({"symbol": symbols}, index=symbols))
    qc.layers["vst"] = y
    diff = y[patients:] - y[:patients]
    stat = diff.mean(axis=0) / (diff.std(axis=0, ddof=1) / np.sqrt(patients))
    de = pd.DataFrame({"gene_id": symbols, "symbol": symbols, "stat": stat, "padj": 0.5,
                       "log2FoldChange": diff.mean(axis=0)})
    sets = {"planted": GeneSet("planted", "planted", tuple(symbols[:30])),
            "programme": GeneSet("programme", "programme", tuple(symbols[30:70]))}
    for k in range(20):
        members = rng.choice(np.arange(70, 1000), 30, replace=False)
        sets[f"random{k}"] = GeneSet(f"random{k}", f"random{k}", tuple(symbols[i] for i in members))
    return qc, de, sets


def test_planted_term_is_called_and_the_correlated_programme_is_not() -> None:
    """Seed 1. Over seeds 0-19 camera called 'programme' (FDR < 0.05) in none and GSEA (gene permutation) in
    11; camera called 'planted' and nothing else in all 20."""
    qc, de, sets = cohort(1)
    table = term_tests(qc, qc.obs, de, sets, CONTRAST, min_size=10, max_size=500).set_index("term_id")
    assert table.loc["planted", "fdr"] < 1e-3 and table.loc["planted", "direction"] == "up"
    assert table.loc["programme", "fdr"] > 0.05
    assert table.loc["programme", "correlation"] > 0.2  # the shared factor, seen in the residuals
    assert (table.drop(index=["planted"])["fdr"] >= 0.05).all()
    gsea_table = gsea(de, sets, EnrichSettings.from_config({"min_size": 10}), seed=0, threads=1)[0]
    assert gsea_table.set_index("term_id").loc["programme", "fdr"] < 0.05  # what camera protects against


def test_universe_is_the_tested_genes_one_per_symbol() -> None:
    qc, de, _ = cohort(0)
    de = de.copy()
    de.loc[de["gene_id"] == "G5", "stat"] = np.nan  # host-dominated or filtered: not tested
    universe = term_universe(qc, de, exclude={"G6"})
    assert "G5" not in universe.index and "G6" not in universe.index and len(universe) == 998

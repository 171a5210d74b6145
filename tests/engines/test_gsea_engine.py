"""The builtin preranked GSEA engine (``target_rationale.gsea``): scores by hand, determinism, tail accuracy
against brute force, and agreement with gseapy's ``prerank(method="multilevel")``."""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest
from scipy.special import polygamma
from target_rationale.engines import gsea
from target_rationale.genesets.gmt import as_gseapy_dict, read_gmt, restrict

REPO = Path(__file__).resolve().parents[2]

#: Ten genes, statistics 5..1, -1..-5: the hand-computed examples below use this ranking.
TINY = pd.Series([5.0, 4.0, 3.0, 2.0, 1.0, -1.0, -2.0, -3.0, -4.0, -5.0], index=list("ABCDEFGHIJ"))


def synthetic(n_genes: int, n_sets: int, seed: int, planted: dict[int, float] | None = None,
              sizes: tuple[int, int] = (15, 120)) -> tuple[pd.Series, dict[str, list[str]]]:
    """Normal statistics for genes G00000.., random gene sets S000.., and shifts added to chosen sets."""
    rng = np.random.default_rng(seed)
    genes = np.array([f"G{i:05d}" for i in range(n_genes)])
    stats = pd.Series(rng.normal(size=n_genes), index=genes)
    sets = {f"S{i:03d}": list(rng.choice(genes, rng.integers(*sizes), replace=False)) for i in range(n_sets)}
    for i, shift in (planted or {}).items():
        stats[sets[f"S{i:03d}"]] += shift
    return stats, sets


def test_enrichment_score_and_leading_edge_by_hand():
    # Set {A, C, H}: weights 5, 3, 3 (NS = 11), 7 non-members. Running sum along A..J:
    # +5/11, -1/7, +3/11, -1/7 x4, +3/11, -1/7 x2 -> 0.4545, 0.3117, 0.5844 (peak at C), ..., 0.0130, 0.2857, 0.
    # Peak 5/11 + 3/11 - 1/7 = 45/77; trough 0; leading edge A, C.
    # Set {B, I, J}: weights 4, 4, 5 (NS = 13). Running sum: -1/7 (A), +4/13 -> 15/91 (B), then six misses to
    # 15/91 - 6/7 = -9/13 (trough, just before I), then +4/13, +5/13 -> 0. |-9/13| > 15/91: ES = -9/13; leading edge
    # from the bottom up to the trough: J, I.
    table = gsea.prerank(TINY, {"pos": ["A", "C", "H"], "neg": ["B", "I", "J", "not_ranked"]}, min_size=3,
                         max_size=9, nperm=200).set_index("term_id")
    assert table.loc["pos", "es"] == pytest.approx(45 / 77, abs=1e-12)
    assert table.loc["neg", "es"] == pytest.approx(-9 / 13, abs=1e-12)
    assert table.loc["pos", "leading_edge"] == "A;C"
    assert table.loc["neg", "leading_edge"] == "J;I"
    assert table.loc["neg", "size"] == 3  # the unranked member does not count
    assert list(table.reset_index().columns) == gsea.RESULT_COLUMNS


def test_ties_are_ordered_by_gene_name_whatever_the_input_order():
    stats = pd.Series([2.0, 1.0, 1.0, 1.0, 0.5, -1.0, -1.0, -2.0], index=["Z", "C", "A", "B", "Y", "X", "W", "V"])
    genes, values = gsea.order_ranking(stats)
    assert list(genes) == ["Z", "A", "B", "C", "Y", "W", "X", "V"]
    assert list(values) == [2.0, 1.0, 1.0, 1.0, 0.5, -1.0, -1.0, -2.0]
    sets = {"s1": ["A", "Y", "W"], "s2": ["C", "X", "V"]}
    shuffled = stats.sample(frac=1.0, random_state=3)
    a = gsea.prerank(stats, sets, min_size=2, max_size=5, nperm=100)
    b = gsea.prerank(shuffled, sets, min_size=2, max_size=5, nperm=100)
    pd.testing.assert_frame_equal(a, b)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="duplicated"):
        gsea.prerank(pd.Series([1.0, 2.0, 3.0], index=["A", "A", "B"]), {"s": ["A", "B"]}, min_size=1)
    with pytest.raises(ValueError, match="infinite"):
        gsea.prerank(pd.Series([1.0, np.nan, 3.0], index=["A", "B", "C"]), {"s": ["A", "B"]}, min_size=1)
    with pytest.raises(TypeError):
        gsea.prerank(TINY, "GO_Biological_Process_2021")  # never a library name
    with pytest.raises(TypeError):
        gsea.prerank(TINY, {"s": "ABC"}, min_size=1)


def test_size_filter_sorting_and_fdr():
    stats, sets = synthetic(2000, 40, seed=5, planted={0: 1.0, 1: -0.8}, sizes=(5, 60))
    sets["tiny"] = ["G00001", "G00002", "absent1", "absent2", "absent3", "absent4", "absent5", "absent6"]
    table = gsea.prerank(stats, sets, min_size=10, max_size=50, nperm=500)
    expected = {t for t, genes in sets.items() if 10 <= len(set(genes) & set(stats.index)) <= 50}
    assert set(table.term_id) == expected and "tiny" not in expected
    assert (table["size"] == [len(set(sets[t]) & set(stats.index)) for t in table.term_id]).all()
    keys = list(zip(table.pvalue, table.term_id))
    assert keys == sorted(keys)
    p = table.pvalue.to_numpy()
    bh = np.minimum.accumulate((p * len(p) / np.arange(1, len(p) + 1))[::-1])[::-1]
    np.testing.assert_allclose(table.fdr, np.minimum(bh, 1.0))
    none = gsea.prerank(stats, sets, min_size=400, max_size=500)
    assert none.empty and list(none.columns) == gsea.RESULT_COLUMNS  # no set in range: the same columns


def test_same_seed_same_table_whatever_the_thread_count():
    stats, sets = synthetic(3000, 60, seed=11, planted={0: 0.9, 1: -1.2, 2: 0.7, 3: -1.0})
    one = gsea.prerank(stats, sets, seed=7, threads=1)
    assert (one.pvalue < 1e-3).sum() >= 3  # multilevel rulers were built
    pd.testing.assert_frame_equal(one, gsea.prerank(stats, sets, seed=7, threads=1))
    pd.testing.assert_frame_equal(one, gsea.prerank(stats, sets, seed=7, threads=2))
    pd.testing.assert_frame_equal(one, gsea.prerank(stats, sets, seed=7, threads=3))
    other = gsea.prerank(stats, sets, seed=8, threads=2).set_index("term_id").loc[one.term_id]
    np.testing.assert_array_equal(one.es, other.es)
    assert not np.array_equal(one.pvalue, other.pvalue)


def test_planted_set_gets_a_tiny_pvalue_and_a_random_set_does_not():
    rng = np.random.default_rng(2)
    genes = [f"G{i:05d}" for i in range(5000)]
    stats = pd.Series(np.sort(rng.normal(size=5000))[::-1], index=genes)
    sets = {"planted": genes[:40:2] + genes[1:200:10],  # 40 genes, all in the top 200 of 5000
            "random": list(rng.choice(genes, 40, replace=False))}
    table = gsea.prerank(stats, sets).set_index("term_id")
    assert table.loc["planted", "pvalue"] < 1e-10
    assert table.loc["planted", "nes"] > 2
    assert table.loc["random", "pvalue"] > 1e-3


@numba.njit
def _brute_force(weights: np.ndarray, k: int, count: int, es: float, seed: int) -> tuple[int, int]:
    """Of ``count`` uniform random ``k``-sets: how many have ES >= ``es`` and how many have ES >= 0."""
    state = np.array([seed], dtype=np.uint64)
    n = weights.size
    more = 0
    positive = 0
    for _ in range(count // 1000):
        block = gsea._random_sets(n, k, 1000, state)
        for s in range(1000):
            ns = 0.0
            for j in range(k):
                ns += weights[block[s, j]]
            e = gsea._es_sorted(weights, block[s], k, n, ns)
            more += e >= es
            positive += e >= 0.0
    return more, positive


def test_multilevel_pvalue_matches_brute_force_monte_carlo():
    # A set placed so that its p-value is ~1e-4: beyond 1000 permutations, so it comes from a multilevel
    # ruler; 1,000,000 random sets give the same conditional probability P(ES >= es | ES >= 0) directly.
    rng = np.random.default_rng(4)
    n, k = 1500, 25
    genes = [f"G{i:05d}" for i in range(n)]
    stats = pd.Series(np.sort(rng.normal(size=n))[::-1], index=genes)
    members = list(rng.choice(n, k - 10, replace=False)) + list(rng.choice(150, 10, replace=False))
    gene_set = {"s": [genes[i] for i in set(members)]}
    k = len(gene_set["s"])
    table = gsea.prerank(stats, gene_set, min_size=5, sample_size=301)
    es, p = table.es.iloc[0], table.pvalue.iloc[0]
    assert 2e-6 < p < 1e-3
    more, positive = _brute_force(np.abs(stats.to_numpy()), k, 1_000_000, es, 99)
    assert more >= 50
    assert abs(np.log2(p / (more / positive))) < 1.0


@pytest.fixture(scope="module")
def gseapy_comparison() -> tuple[pd.DataFrame, pd.DataFrame]:
    """GO MF (sets of 15-300 genes) on 8,000 genes with 20 planted shifted sets, by both engines."""
    gseapy = pytest.importorskip("gseapy")
    gmt = read_gmt(REPO / "resources" / "genesets" / "go_mf.gmt.gz")
    rng = np.random.default_rng(1)
    universe = np.array(sorted({g for s in gmt.values() for g in s.genes}))
    genes = np.sort(rng.choice(universe, 8000, replace=False))
    stats = pd.Series(rng.normal(size=genes.size), index=genes)
    sets = as_gseapy_dict(restrict(gmt, set(genes), 15, 300))  # a dict, never a library name
    for i, term in enumerate(rng.choice(sorted(sets), 20, replace=False)):
        stats[sets[term]] += 0.6 if i % 2 == 0 else -0.6
    ours = gsea.prerank(stats, sets, min_size=15, max_size=300, threads=2).set_index("term_id")
    ranking = stats.sort_values(ascending=False)  # unique genes, no ties
    res = gseapy.prerank(rnk=ranking, gene_sets=sets, min_size=15, max_size=300, permutation_num=1000,
                         method="multilevel", threads=1, seed=42, outdir=None, no_plot=True, verbose=False)
    theirs = res.res2d.set_index("Term")[["ES", "NES", "NOM p-val", "FDR q-val"]].astype(float)
    theirs.columns = ["es", "nes", "pvalue", "fdr"]
    return ours, theirs.loc[ours.index]


def test_agrees_with_gseapy_multilevel(gseapy_comparison):
    ours, theirs = gseapy_comparison
    assert len(ours) > 500
    np.testing.assert_allclose(ours.es, theirs.es, atol=1e-9)
    assert np.corrcoef(ours.nes, theirs.nes)[0, 1] >= 0.99
    called_ours = set(ours.index[ours.fdr < 0.05])
    called_theirs = set(theirs.index[theirs.fdr < 0.05])
    assert len(called_theirs) >= 30
    assert len(called_ours & called_theirs) / len(called_ours | called_theirs) >= 0.9
    in_range = theirs.pvalue.between(1e-10, 1e-2)
    assert in_range.sum() >= 30
    log2_ratio = np.log2(ours.pvalue[in_range] / theirs.pvalue[in_range])
    assert (log2_ratio.abs() <= np.log2(3)).mean() >= 0.9
    assert abs(log2_ratio.median()) < 0.5


def test_log2err_is_fgseas_and_fdr_calls_hold_across_seeds():
    """log2err: for a multilevel p-value fgsea's sqrt(floor(-log2 p + 1) * (trigamma(51) - trigamma(102))) / log 2
    (sample_size 101), for a crude one the half log2 width of its interval (positive, below 1 for p near 0.5).
    Two seeds call the same sets at FDR < 0.05 on a planted ranking, and their log2 p differ by no more than a
    few log2err."""

    stats, sets = synthetic(3000, 60, seed=5, planted={0: 1.0, 1: -0.8, 2: 0.6, 3: 0.4})
    first = gsea.prerank(stats, sets, nperm=1000, seed=1).set_index("term_id")
    second = gsea.prerank(stats, sets, nperm=1000, seed=2).set_index("term_id")
    strong = first.loc["S000"]
    tri = polygamma(1, 51) - polygamma(1, 102)
    assert strong["pvalue"] < 1e-4
    assert strong["log2err"] == pytest.approx(np.sqrt(np.floor(-np.log2(strong["pvalue"]) + 1) * tri) / np.log(2))
    crude = first.loc[first["pvalue"] > 0.3, "log2err"]
    assert len(crude) and ((crude > 0) & (crude < 1)).all()
    called = {t for t in first.index if first.loc[t, "fdr"] < 0.05}
    assert called == {t for t in second.index if second.loc[t, "fdr"] < 0.05} and {"S000", "S001"} <= called
    both = first.index[first["pvalue"] < 0.01]
    spread = (np.log2(first.loc[both, "pvalue"]) - np.log2(second.loc[both, "pvalue"])).abs()
    assert (spread <= 4 * np.sqrt(first.loc[both, "log2err"] ** 2 + second.loc[both, "log2err"] ** 2)).all()

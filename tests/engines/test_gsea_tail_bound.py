"""The tail bound of a random gene set's ES (``engines.gsea.tail_bound_log``): never below the exact probability (all
subsets enumerated), within three orders of magnitude of it for the rarest subset, and in ``prerank`` a set far below
the p-value floor ends its ruler early without changing any p-value."""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import pandas as pd
import pytest
from target_rationale.core.jobs import LOG
from target_rationale.engines import gsea


def exact_tail(weights: np.ndarray, k: int) -> np.ndarray:
    """Positive ES (as the rulers score it) of every ``k``-subset of the genes, sorted."""
    n = weights.size
    return np.sort([gsea._positive_score(weights, np.array(subset, dtype=np.int64), k, n - k)[0]
                    for subset in itertools.combinations(range(n), k)])


@pytest.mark.parametrize(("n", "k", "pattern"), [(16, 3, "normal"), (18, 4, "ties_and_zeros"), (14, 6, "flat")])
def test_bound_is_never_below_the_exact_probability(n, k, pattern):
    rng = np.random.default_rng(n)
    if pattern == "normal":
        stats = np.sort(rng.normal(size=n))[::-1]
    elif pattern == "ties_and_zeros":
        stats = np.sort(np.concatenate([np.round(rng.normal(size=n - 3), 1), np.zeros(3)]))[::-1]  # ties, zeros
    else:
        stats = np.linspace(1.0, -1.0, n)
    weights = np.floor(np.abs(stats) * (gsea._MAX_NS / np.abs(stats).sum())).astype(np.int64)
    scores = exact_tail(weights, k)
    total = scores.size
    checked = 0
    for score in np.unique(scores[scores > 0]):
        exact = np.count_nonzero(scores >= score) / total
        bound = gsea.tail_bound_log(weights, k, float(score), 0.0)
        if bound < 0.0:  # the bound said something
            assert bound >= math.log(exact) - 1e-9, (score, exact, math.exp(bound))
            checked += 1
    assert checked >= 3
    # the rarest score (1 subset in C(n, k)) is bounded within a few orders of magnitude
    top = scores[-1]
    assert gsea.tail_bound_log(weights, k, float(top), 0.0) < math.log(1e3 * np.count_nonzero(scores >= top) / total)


def test_bound_stops_at_the_callers_limit():
    weights = np.arange(2000, 0, -1, dtype=np.int64)
    full = gsea.tail_bound_log(weights, 40, 0.8, 0.0)
    assert math.log(1e-20) < full < math.log(1e-10)
    assert gsea.tail_bound_log(weights, 40, 0.9, 0.0) < full  # a higher score is rarer
    # with a limit it stops at the first partial sum above it: above the limit, below the whole bound
    whole = gsea.tail_bound_log(weights, 40, 0.6, 0.0)
    partial = gsea.tail_bound_log(weights, 40, 0.6, full - 5.0)
    assert full - 5.0 < partial < whole - 1.0


def strong_ranking() -> tuple[pd.Series, dict[str, list[str]]]:
    """1,500 genes; one set of the 40 top genes (p about 1 / C(1500, 40), far below 1e-50) and one of 40 of the top
    200 (p about 1e-24: the same ruler, which now stops there)."""
    rng = np.random.default_rng(3)
    genes = [f"G{i:05d}" for i in range(1500)]
    stats = pd.Series(np.sort(rng.normal(size=1500))[::-1], index=genes)
    sets = {"top": genes[:40], "strong": genes[:200:5], "random": list(rng.choice(genes, 40, replace=False))}
    return stats, sets


def test_a_set_far_below_the_floor_needs_no_ruler_levels_and_changes_no_pvalue(monkeypatch, caplog):
    stats, sets = strong_ranking()
    with caplog.at_level(logging.INFO, logger=LOG.name):
        bounded = gsea.prerank(stats, sets, min_size=10)
    assert "1 set(s) below the p-value floor by a tail bound" in caplog.text
    monkeypatch.setattr(gsea, "_BOUND_CHECK", 1e9)  # never tried: every ruler runs to its last set
    plain = gsea.prerank(stats, sets, min_size=10)
    pd.testing.assert_frame_equal(bounded, plain)
    table = bounded.set_index("term_id")
    assert table.loc["top", "pvalue"] == 1e-50 and np.isnan(table.loc["top", "log2err"])
    assert 1e-50 < table.loc["strong", "pvalue"] < 1e-15

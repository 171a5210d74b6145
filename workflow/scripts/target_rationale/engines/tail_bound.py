"""An upper bound on the tail of a random gene set's enrichment score, for sets far beyond the p-value floor.

A multilevel ruler (:mod:`target_rationale.engines.gsea`) halves the probability it measures at each level, so
a set whose p-value is below the floor ``eps`` (1e-50) costs about ``log2(1 / eps)`` = 166 levels, and the set
is then reported at the floor anyway. This module proves, for such a set, that its p-value is far below the
floor, so that its size's ruler can stop at the next set instead (the other sets' p-values are unchanged: a
ruler's levels do not depend on where it stops).

The bound. Genes in ranking order carry weights ``r_i >= 0``; ``S`` is a uniform random ``k``-subset,
``NS = sum_S r_i``, ``d = n - k``. The positive ES is the largest ``Y_m / NS - X_m / d`` over prefixes of
length ``m`` ending at a member (``Y_m``: members' weight among the first ``m`` genes, ``X_m = m - a_m``: the
non-members among them, ``a_m <= k`` the members). So ``ES+ >= t`` implies, for some ``m``,
``Y_m / NS >= t + (m - k)+ / d``. On a grid ``m_1 < m_2 < ...`` of prefix lengths, ``m`` in ``(m_{g-1}, m_g]``
gives ``Y_{m_g} >= Y_m`` and ``(m - k)+ >= (m_{g-1} + 1 - k)+``, hence

    P(ES+ >= t) <= sum_g P(sum_{i in S} v_i >= 0),  v_i = r_i (1[i < m_g] - c_g),
                                                    c_g = t + (m_{g-1} + 1 - k)+ / d,

(terms with ``c_g > 1`` are impossible). Each term is bounded with the generating function of ``k``-subsets:
for any ``z > 0`` and ``lambda >= 0``,

    #{S : sum_S v >= 0} <= sum_{|S| = k} exp(lambda sum_S v) = [z^k] prod_i (1 + z e^{lambda v_i})
                        <= z^-k prod_i (1 + z e^{lambda v_i}),

so ``log P <= -k log z + sum_i log(1 + z e^{lambda v_i}) - log C(n, k)``, minimised over ``(lambda, log z)``
(a convex function; Newton's method). Unlike Hoeffding's bound this keeps sampling without replacement, which
is what makes it tight (within ~5-10 orders of magnitude of the multilevel estimate at 1e-30 to 1e-50). Any
``(lambda, z)`` gives a valid bound, so the optimiser's accuracy affects only its tightness. To keep each step
cheap the genes are put in ``n_bins`` bins by weight, and each bin's sum uses its largest weight for genes in
the prefix and its smallest for the others; both only raise the sum, so the bound stays valid.
"""

from __future__ import annotations

import math

import numpy as np

from target_rationale.engines.jit import njit


@njit
def _softplus(x: float) -> float:
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


@njit
def _objective(inside: np.ndarray, count: np.ndarray, high: np.ndarray, low: np.ndarray, c: float, k: int,
               log_choose: float, lam: float, mu: float) -> float:
    """``-k mu + sum_i softplus(mu + lam v_i) - log C(n, k)`` over the binned genes (an upper bound of it)."""
    total = -k * mu - log_choose
    for b in range(count.size):
        if inside[b] > 0:
            total += inside[b] * _softplus(mu + lam * high[b] * (1.0 - c))
        outside = count[b] - inside[b]
        if outside > 0:
            total += outside * _softplus(mu - lam * c * low[b])
    return total


@njit
def _term(inside: np.ndarray, count: np.ndarray, high: np.ndarray, low: np.ndarray, c: float, k: int,
          log_choose: float, lam: float, mu: float):
    """One term's bound, minimised by damped Newton from ``(lam, mu)`` (the previous term's optimum), or from
    ``lam = 0`` if that start is no better than the trivial bound; returns ``(log bound, lam, mu)``."""
    current = _objective(inside, count, high, low, c, k, log_choose, lam, mu)
    if not current < 0.0:
        lam = 0.0
        mu = math.log(k / (count.sum() - k))
        current = _objective(inside, count, high, low, c, k, log_choose, lam, mu)
    for _ in range(60):
        g_lam = 0.0
        g_mu = -float(k)
        h_ll = 0.0
        h_lm = 0.0
        h_mm = 0.0
        for b in range(count.size):
            for side in range(2):
                if side == 0:
                    w = inside[b]
                    v = high[b] * (1.0 - c)
                else:
                    w = count[b] - inside[b]
                    v = -c * low[b]
                if w <= 0:
                    continue
                x = mu + lam * v
                if x >= 0.0:
                    s = 1.0 / (1.0 + math.exp(-x))
                else:
                    e = math.exp(x)
                    s = e / (1.0 + e)
                q = w * s * (1.0 - s)
                g_lam += w * s * v
                g_mu += w * s
                h_ll += q * v * v
                h_lm += q * v
                h_mm += q
        det = h_ll * h_mm - h_lm * h_lm
        if not det > 0.0:
            break
        step_lam = (h_mm * g_lam - h_lm * g_mu) / det
        step_mu = (h_ll * g_mu - h_lm * g_lam) / det
        a = 1.0
        accepted = False
        for _ in range(40):
            new_lam = max(0.0, lam - a * step_lam)
            new_mu = mu - a * step_mu
            value = _objective(inside, count, high, low, c, k, log_choose, new_lam, new_mu)
            if value < current:
                accepted = True
                break
            a *= 0.5
        if not accepted:
            break
        gain = current - value
        lam, mu, current = new_lam, new_mu, value
        if gain < 1e-9:
            break
    return current, lam, mu


@njit
def tail_bound_log(weights: np.ndarray, k: int, score: float, log_limit: float, n_grid: int = 48,
                   n_bins: int = 1024) -> float:
    """Upper bound of ``log P(ES+ >= score)`` for a uniform random ``k``-subset of genes with ``weights``.

    Parameters
    ----------
    weights : numpy.ndarray of int64
        Non-negative gene weights in ranking order (a ruler's integer weights, oriented as the set's ES).
    k : int
        Set size, ``1 <= k < len(weights)``.
    score : float
        Positive ES the random set must reach (as the ruler scores it).
    log_limit : float
        The caller's threshold: once the bound exceeds it the computation stops and returns a value above it.
    n_grid : int
        Prefix lengths on the grid (geometric from 1 to the longest possible prefix).
    n_bins : int
        Weight bins (geometric between the smallest positive and the largest weight; zero weights apart).

    Returns
    -------
    float
        ``log`` of the bound (at most 0), or a value above ``log_limit`` if the computation stopped there.
    """
    n = weights.size
    d = n - k
    largest = 0
    smallest = 0
    for i in range(n):
        w = weights[i]
        if w > largest:
            largest = w
        if w > 0 and (smallest == 0 or w < smallest):
            smallest = w
    score -= 1e-12  # the ruler compares correctly rounded ratios: cover a set rounding up to the score
    if largest == 0 or score <= 0.0:
        return 0.0
    span = math.log(largest / smallest)
    # bin 0: zero weights; bins 1..n_bins: geometric by weight; each bin's true extremes are its edges
    bin_of = np.zeros(n, np.int64)
    count = np.zeros(n_bins + 1, np.int64)
    high = np.zeros(n_bins + 1)
    low = np.full(n_bins + 1, np.inf)
    low[0] = 0.0
    for i in range(n):
        w = weights[i]
        if w == 0:
            b = 0
        else:
            b = 1 + int(math.log(w / smallest) / span * n_bins) if span > 0.0 else 1
            b = min(max(b, 1), n_bins)
        bin_of[i] = b
        count[b] += 1
        x = w / largest
        if x > high[b]:
            high[b] = x
        if x < low[b]:
            low[b] = x
    log_choose = math.lgamma(n + 1.0) - math.lgamma(k + 1.0) - math.lgamma(d + 1.0)
    # the event needs t + (m - k)+ / d <= 1, i.e. m <= k + (1 - t) d: beyond that the grid has one last step
    longest = min(n, int(k + (1.0 - score) * d) + 2)
    ratio = math.exp(math.log(longest) / n_grid)
    inside = np.zeros(n_bins + 1, np.int64)
    total = -np.inf
    lam = 0.0
    mu = math.log(k / d)
    previous = 0
    reach = 1.0
    filled = 0
    while previous < n:
        reach *= ratio
        m = n if previous >= longest else min(n, max(previous + 1, int(reach)))
        c = score + max(0, previous + 1 - k) / d
        if c > 1.0:
            break
        while filled < m:
            inside[bin_of[filled]] += 1
            filled += 1
        value, lam, mu = _term(inside, count, high, low, c, k, log_choose, lam, mu)
        value = min(value, 0.0)
        if total == -np.inf:
            total = value
        else:
            top = max(total, value)
            total = top + math.log1p(math.exp(min(total, value) - top))
        if total > log_limit:
            return total
        previous = m
    return min(total, 0.0)

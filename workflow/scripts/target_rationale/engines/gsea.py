"""Preranked gene-set enrichment analysis (GSEA): the fgsea multilevel method, compiled with numba.

One call tests one collection against one ranking and returns one table. The method is fgsea's
``fgseaMultilevel`` (Korotkevich et al., bioRxiv 060012; the C++ core of ctlab/fgsea), which gseapy's
``prerank(method="multilevel")`` also ports:

* **Enrichment score (ES).** Genes are ordered by decreasing statistic and weighted by ``|stat|``
  (``gseaParam = 1``). The running sum steps up by ``|stat_g| / NS`` at set members (``NS`` = the members'
  total weight) and down by ``1 / (n - k)`` at the other genes; ES is its largest deviation from zero (the
  positive peak if it is farther from zero than the negative trough, else the trough).
* **NES and crude p-values** from random gene sets (fgsea's ``calcGseaStatCumulativeBatch``): ``nperm`` random
  orderings of ``max_size`` distinct genes; the first ``k`` genes of an ordering are a random set of size
  ``k``, so one ordering serves every set size at once. ``NES = ES / mean(random ES of the same sign and
  size)``. The crude p-value is ``min((1 + #{rand <= ES}) / (1 + #{rand <= 0}),
  (1 + #{rand >= ES}) / (1 + #{rand >= 0}))``.
* **Multilevel p-values.** Where fgsea's rule says the crude estimate is less accurate than the multilevel
  one would be (roughly: fewer than ~20 of ``nperm`` random sets as extreme as the observed one), the p-value
  comes from adaptive multilevel splitting (fgsea's ``EsRuler``): ``sample_size`` (101) random sets of size
  ``k`` are repeatedly cut at their median positive ES, the lower half is replaced by copies of the upper
  half, and all are moved by MCMC (swap a member for a random gene, keep the swap if the ES stays above the
  cut; ``sample_size * k / 2`` accepted swaps, then as many rounds again) until the cut passes the observed
  ES. Scores are exact ratios of integers (weights scaled to sum to 2^30) with ties broken by a random hash
  of the set, as in fgsea. One ruler is built per set size and sign and serves every set of that size and
  sign; rulers are independent tasks, run on ``threads`` threads. The p-value is fgsea's: the ruler's
  ``P(ES+ >= |ES| and the random set's ES has the sign of ES)`` divided by the crude probability of that
  sign, floored at ``eps`` (1e-50).
  One deliberate difference from fgsea: a ruler's first level is plain Monte Carlo with ``10 * sample_size``
  random sets cut below the top ``sample_size`` (fgsea: ``sample_size`` sets cut at the median). It is the
  same estimator (each level contributes ``digamma(above + 1) - digamma(size + 1)`` to log p), replaces about
  3 MCMC levels at a fraction of their cost and has less variance than they would.
  A second one: a set whose p-value is far below the floor (a strong contrast's largest GO terms) would cost
  its ruler about 166 levels only to be reported at the floor. Once a ruler's probability is below 1e-20, its
  highest sets are checked against a proven upper bound of their tail probability
  (:func:`tail_bound_log`); a set bounded 2^20 times below the floor is reported at the
  floor, and the ruler stops at the next set. Every p-value is the one the full ruler gives (a ruler's levels
  do not depend on where it stops), short of a 10-sd error of the multilevel estimate at the floor.
* **Precision**: fgsea's ``log2err`` per set, the expected standard deviation of ``log2(p)``: of the
  multilevel estimate (``sqrt(floor(-log2 p + 1) * (trigamma((s + 1) / 2) - trigamma(s + 1))) / log 2`` with
  ``s = sample_size``) where it was used, else of the crude estimate (half the log2 width of its 95% interval);
  NaN at the ``eps`` floor.
* **FDR**: Benjamini-Hochberg over every set tested in the call (sets whose p-value is undefined excluded,
  as R's ``p.adjust`` does).
* **Leading edge**: for a positive ES the members from the top of the ranking to the peak (in ranking
  order); for a negative ES the members from the bottom of the ranking up to the trough (from the most
  negative statistic on), as gseapy's ``lead_genes`` and fgsea's ``leadingEdge``.

Determinism: every random stream is derived from ``seed`` with :class:`numpy.random.SeedSequence` (one
stream per random ordering and one per ruler), and parallel work is split into independent tasks whose
results are combined in a fixed order, so a table depends on the inputs and ``seed`` only, never on
``threads`` or on scheduling.

Cost (``benchmarks/gsea_benchmark.py``: GO BP, 6,288 sets of 10-500 genes, 20,000 genes, 20 planted shifted
sets, on 2 cores, December): 5.0-5.1 s wall on 2 threads (about 10 s CPU, nearly all in the multilevel rulers)
and 0.4 GB peak for the process, against 46.5 s and 7 GB for gseapy's multilevel prerank on one thread.

Ties in the ranking: genes with equal statistics are ordered by gene symbol (ascending), so the table does not
depend on the input order (gseapy leaves their order to its sort).

Compilation: the kernels are compiled by numba on first use (about 10 s). They are cached on disk where numba
can write (``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` next to this file, else the user's cache folder,
``~/.cache/numba``); later processes load them in about a second. If no folder is writable they are
compiled in every process.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
from scipy.special import digamma, polygamma
from scipy.stats import beta as beta_dist

from target_rationale.core.jobs import LOG

#: Columns of the result table, in order.
RESULT_COLUMNS = ["term_id", "size", "es", "nes", "pvalue", "log2err", "fdr", "leading_edge"]

#: Integer scale of the ranking weights in the multilevel rulers (fgsea's ``score_t::getMaxNS``): the weights
#: of all genes sum to about this, so every enrichment score is an exact ratio of 64-bit integers.
_MAX_NS = 2 ** 30

#: Rankings must be shorter than this, so that a ruler's score numerators (< 2^30 * n) stay exact in a double.
_MAX_GENES = 2 ** 22

#: Fewer than this many random sets with the sign of the observed ES: p-value and NES undefined (fgsea).
_MIN_MODE_FRACTION = 10

#: Level 0 of a multilevel ruler draws this many times ``sample_size`` plain random sets.
_FIRST_LEVEL_FACTOR = 10

#: A set whose p-value :func:`tail_bound_log` puts 2^20 times below the floor is reported at the floor without
#: ruler levels of its own: the multilevel estimate's sd of log2 p there is about 1.9 (``log2err``), so the ruler
#: would have put it below the floor too (short of a 10-sd event).
_BOUND_MARGIN = 20 * math.log(2)
#: A ruler tries the tail bound on its highest sets once its probability is below ``eps`` to this power (the
#: floor's 1e-50: 1e-20), so that only rulers that go deep pay for the bound.
_BOUND_CHECK = 0.4

#: Random orderings per null task (only the wall time depends on this).
_PERM_BLOCK = 50


def _njit(func: Callable) -> Callable:
    """``numba.njit(nogil=True)``, cached on disk when numba finds a writable cache folder.

    numba's cache is invalidated when the file of the cached function changes, not when a function it calls in
    another file does: the engine's kernels therefore all live in this file.
    """
    try:
        return numba.njit(nogil=True, cache=True)(func)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, cache=False)(func)


# ----------------------------------------------------------------------------------------------------------
# Random numbers: splitmix64, one independent stream per task (seeded from numpy's SeedSequence).
# ----------------------------------------------------------------------------------------------------------

@_njit
def _next_u64(state: np.ndarray) -> np.uint64:
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@_njit
def _randint(state: np.ndarray, m: int) -> int:
    """Uniform integer in ``[0, m)``: ``floor(u * m)`` for a uniform 53-bit ``u`` (bias below 1e-11 here)."""
    return np.int64(np.float64(_next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0) * m)


@_njit
def _digamma(x: float) -> float:
    """Digamma function for ``x > 0`` (recurrence to ``x >= 6``, then the asymptotic series)."""
    result = 0.0
    while x < 6.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return result + math.log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (
        1.0 / 240 - f * (1.0 / 132)))))


# ----------------------------------------------------------------------------------------------------------
# Enrichment scores (floating point, as reported) and the random-gene-set null.
# ----------------------------------------------------------------------------------------------------------

@_njit
def _es_sorted(weights: np.ndarray, positions: np.ndarray, k: int, n: int, ns: float) -> float:
    """ES of the set at sorted ``positions[:k]`` (fgsea's calcGseaStat; ties of peak and trough give 0)."""
    if ns <= 0.0:
        return 0.0
    inv_ns = 1.0 / ns
    inv_miss = 1.0 / (n - k)
    y = 0.0
    top = 0.0
    bottom = 0.0
    for j in range(k):
        p = positions[j]
        x = (p - j) * inv_miss
        b = y * inv_ns - x
        if b < bottom:
            bottom = b
        y += weights[p]
        t = y * inv_ns - x
        if t > top:
            top = t
    if top > -bottom:
        return top
    if top < -bottom:
        return bottom
    return 0.0


@_njit
def _observed_es(weights: np.ndarray, offsets: np.ndarray, positions: np.ndarray):
    """ES of every set (CSR ``offsets``/``positions``, positions sorted) and the member index of its peak.

    For a positive ES the peak is the last member of the leading edge (members ``0..peak``); for a negative
    ES the trough lies just before member ``peak`` (leading edge: members ``peak..k-1``).
    """
    n = weights.size
    m = offsets.size - 1
    es = np.zeros(m)
    peak = np.zeros(m, np.int64)
    for i in range(m):
        lo = offsets[i]
        k = offsets[i + 1] - lo
        ns = 0.0
        for j in range(k):
            ns += weights[positions[lo + j]]
        if ns <= 0.0:
            continue
        inv_miss = 1.0 / (n - k)
        y = 0.0
        top = 0.0
        top_at = 0
        bottom = 0.0
        bottom_at = 0
        for j in range(k):
            p = positions[lo + j]
            x = (p - j) * inv_miss
            b = y / ns - x
            if b < bottom:
                bottom = b
                bottom_at = j
            y += weights[p]
            t = y / ns - x
            if t > top:
                top = t
                top_at = j
        if top > -bottom:
            es[i] = top
            peak[i] = top_at
        elif top < -bottom:
            es[i] = bottom
            peak[i] = bottom_at
        else:
            peak[i] = top_at
    return es, peak


@_njit
def _null_block(weights: np.ndarray, max_k: int, size_col: np.ndarray, seeds: np.ndarray, out: np.ndarray,
                row0: int) -> None:
    """Random ES for every needed size from one random ordering per seed (rows ``row0..`` of ``out``).

    ``size_col[k]`` is the column of size ``k`` in ``out`` (-1: not needed). The ordering's genes are kept
    sorted by rank as they are drawn, so the set of the first ``k`` genes is scored in ``O(k)``.
    """
    n = weights.size
    used = np.zeros(n, np.bool_)
    buf = np.empty(max_k, np.int64)
    state = np.empty(1, np.uint64)
    for b in range(seeds.size):
        state[0] = seeds[b]
        ns = 0.0
        for m in range(max_k):
            x = _randint(state, n)
            while used[x]:
                x = _randint(state, n)
            used[x] = True
            j = m
            while j > 0 and buf[j - 1] > x:
                buf[j] = buf[j - 1]
                j -= 1
            buf[j] = x
            ns += weights[x]
            col = size_col[m + 1]
            if col >= 0:
                out[row0 + b, col] = _es_sorted(weights, buf, m + 1, n, ns)
        for m in range(max_k):
            used[buf[m]] = False


@_njit
def _null_summary(rand_es: np.ndarray, set_col: np.ndarray, es: np.ndarray):
    """Per set: counts of random ES <= ES, >= ES, <= 0, >= 0 and the sums of their negative/positive parts."""
    m = es.size
    res = np.zeros((m, 6))
    for i in range(m):
        c = set_col[i]
        e = es[i]
        le_es = 0.0
        ge_es = 0.0
        le_zero = 0.0
        ge_zero = 0.0
        le_sum = 0.0
        ge_sum = 0.0
        for b in range(rand_es.shape[0]):
            r = rand_es[b, c]
            if r <= e:
                le_es += 1.0
            if r >= e:
                ge_es += 1.0
            if r <= 0.0:
                le_zero += 1.0
                le_sum += r
            if r >= 0.0:
                ge_zero += 1.0
                ge_sum += r
        res[i, 0] = le_es
        res[i, 1] = ge_es
        res[i, 2] = le_zero
        res[i, 3] = ge_zero
        res[i, 4] = le_sum
        res[i, 5] = ge_sum
    return res


# ----------------------------------------------------------------------------------------------------------
# Tail bound: an upper bound on a random gene set's ES tail, for sets far beyond the p-value floor.
#
# A multilevel ruler halves the probability it measures at each level, so a set whose p-value is below the floor
# ``eps`` (1e-50) costs about ``log2(1 / eps)`` = 166 levels, and the set is then reported at the floor anyway.
# The bound proves, for such a set, that its p-value is far below the floor, so that its size's ruler can stop
# at the next set instead (the other sets' p-values are unchanged: a ruler's levels do not depend on where it
# stops).
#
# The bound. Genes in ranking order carry weights ``r_i >= 0``; ``S`` is a uniform random ``k``-subset,
# ``NS = sum_S r_i``, ``d = n - k``. The positive ES is the largest ``Y_m / NS - X_m / d`` over prefixes of
# length ``m`` ending at a member (``Y_m``: members' weight among the first ``m`` genes, ``X_m = m - a_m``: the
# non-members among them, ``a_m <= k`` the members). So ``ES+ >= t`` implies, for some ``m``,
# ``Y_m / NS >= t + (m - k)+ / d``. On a grid ``m_1 < m_2 < ...`` of prefix lengths, ``m`` in ``(m_{g-1}, m_g]``
# gives ``Y_{m_g} >= Y_m`` and ``(m - k)+ >= (m_{g-1} + 1 - k)+``, hence
#
#     P(ES+ >= t) <= sum_g P(sum_{i in S} v_i >= 0),  v_i = r_i (1[i < m_g] - c_g),
#                                                     c_g = t + (m_{g-1} + 1 - k)+ / d,
#
# (terms with ``c_g > 1`` are impossible). Each term is bounded with the generating function of ``k``-subsets:
# for any ``z > 0`` and ``lambda >= 0``,
#
#     #{S : sum_S v >= 0} <= sum_{|S| = k} exp(lambda sum_S v) = [z^k] prod_i (1 + z e^{lambda v_i})
#                         <= z^-k prod_i (1 + z e^{lambda v_i}),
#
# so ``log P <= -k log z + sum_i log(1 + z e^{lambda v_i}) - log C(n, k)``, minimised over ``(lambda, log z)``
# (a convex function; Newton's method). Unlike Hoeffding's bound this keeps sampling without replacement, which
# is what makes it tight (within ~5-10 orders of magnitude of the multilevel estimate at 1e-30 to 1e-50). Any
# ``(lambda, z)`` gives a valid bound, so the optimiser's accuracy affects only its tightness. To keep each step
# cheap the genes are put in ``n_bins`` bins by weight, and each bin's sum uses its largest weight for genes in
# the prefix and its smallest for the others; both only raise the sum, so the bound stays valid.
# ----------------------------------------------------------------------------------------------------------

@_njit
def _softplus(x: float) -> float:
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


@_njit
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


@_njit
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


@_njit
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


# ----------------------------------------------------------------------------------------------------------
# Multilevel splitting (fgsea's EsRuler) in exact integer arithmetic.
#
# With integer weights r (summing to <= 2^30) a set's running sum at member j is
# (Y_j * D - X_j * NS) / (NS * D): Y_j the members' weight up to j, X_j the non-members before member j,
# D = n - k. Numerators and denominators fit in 53 bits, so each score is the correctly rounded double of
# an exact ratio: equal ratios give equal doubles, and ties between samples are broken by a random
# 64-bit hash of the gene set (fgsea's gsea_t = <score, hash>).
# ----------------------------------------------------------------------------------------------------------

@_njit
def _ratio(num: int, den: int) -> float:
    if den <= 0:
        return 0.0
    return float(num) / float(den)


@_njit
def _positive_score(iranks: np.ndarray, positions: np.ndarray, k: int, d: int):
    """Positive ES of the sorted set ``positions[:k]`` as a double, and whether its signed ES is >= 0."""
    ns = 0
    for j in range(k):
        ns += iranks[positions[j]]
    y = 0
    top = 0
    bottom = 0
    for j in range(k):
        p = positions[j]
        x = p - j
        b = y * d - x * ns
        if b < bottom:
            bottom = b
        y += iranks[p]
        t = y * d - x * ns
        if t > top:
            top = t
    return _ratio(top, ns * d), top >= -bottom


@_njit
def _set_hash(hashes: np.ndarray, positions: np.ndarray, k: int) -> np.uint64:
    h = np.uint64(0)
    for j in range(k):
        h ^= hashes[positions[j]]
    return h


@_njit
def _exceeds(num: int, threshold: float, den: int, bound: float, strict: bool) -> bool:
    """``num / den > bound`` (``strict``) or ``>= bound``, as the correctly rounded ratio compares.

    ``threshold`` is ``bound * den``. Decided by one comparison unless ``num`` is within 1 of it (the
    product's rounding error is below 2^-7 for the magnitudes used here), then by the division itself.
    """
    diff = float(num) - threshold
    if diff > 1.0:
        return True
    if diff < -1.0:
        return False
    r = _ratio(num, den)
    return r > bound if strict else r >= bound


@_njit
def _order_by_key(score: np.ndarray, shash: np.ndarray) -> np.ndarray:
    """Indices sorting ``(score, hash)`` ascending (heapsort; hand-written because numba compiles its own
    sorts slowly)."""
    m = score.size
    order = np.arange(m)
    for root in range(m // 2 - 1, -1, -1):
        _sift_down(order, score, shash, root, m)
    for end in range(m - 1, 0, -1):
        order[0], order[end] = order[end], order[0]
        _sift_down(order, score, shash, 0, end)
    return order


@_njit
def _sift_down(order: np.ndarray, score: np.ndarray, shash: np.ndarray, root: int, end: int) -> None:
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        a = order[child]
        if child + 1 < end:
            b = order[child + 1]
            if score[a] < score[b] or (score[a] == score[b] and shash[a] < shash[b]):
                child += 1
                a = b
        r = order[root]
        if not (score[r] < score[a] or (score[r] == score[a] and shash[r] < shash[a])):
            return
        order[root], order[child] = order[child], order[root]
        root = child


@_njit
def _median(values: np.ndarray) -> int:
    """Median (upper middle element) of a small integer array, by insertion sort of a copy."""
    a = values.copy()
    for j in range(1, a.size):
        x = a[j]
        i = j
        while i > 0 and a[i - 1] > x:
            a[i] = a[i - 1]
            i -= 1
        a[i] = x
    return a[a.size // 2]


@_njit
def _resample(iranks, hashes, pop, n_pop, cur, k, d, state, scores_out, pos_out):
    """Score the first ``n_pop`` sets of ``pop``, cut them, and refill ``cur`` from the sets above the cut.

    The cut is at the median when ``n_pop`` equals ``cur``'s size (fgsea's levels), else below the top
    ``cur.shape[0]`` sets (the plain Monte Carlo first level). Sets are ordered by ``(positive ES, hash)``;
    ``scores_out``/``pos_out`` receive the sorted scores and whether each set's signed ES is >= 0 (1.0 or
    0.0). ``cur`` gets the sets above the cut, preceded by uniform random copies of them up to its size
    (fgsea's duplication).

    Returns ``(start, bound_score, bound_hash, n_copies)``: the index of the first set above the cut, the cut's
    key, and how many copies were made; ``start == -1`` when all sets are equal (no cut possible).
    """
    s_size = cur.shape[0]
    score = np.empty(n_pop)
    ispos = np.empty(n_pop, np.bool_)
    shash = np.empty(n_pop, np.uint64)
    for s in range(n_pop):
        sc_s, pos_s = _positive_score(iranks, pop[s], k, d)
        score[s] = sc_s
        ispos[s] = pos_s
        shash[s] = _set_hash(hashes, pop[s], k)
    order = _order_by_key(score, shash)
    sc = np.empty(n_pop)
    sh = np.empty(n_pop, np.uint64)
    for s in range(n_pop):
        sc[s] = score[order[s]]
        sh[s] = shash[order[s]]
    if n_pop == s_size:
        mid = n_pop // 2
        start = mid
        while start > 0 and sc[start - 1] == sc[mid] and sh[start - 1] == sh[mid]:
            start -= 1
        if start == 0:
            while start < n_pop and sc[start] == sc[0] and sh[start] == sh[0]:
                start += 1
    else:
        start = n_pop - s_size
        while start < n_pop and sc[start] == sc[start - 1] and sh[start] == sh[start - 1]:
            start += 1
    if start == n_pop:
        return -1, 0.0, np.uint64(0), 0
    for s in range(n_pop):
        scores_out[s] = sc[s]
        pos_out[s] = 1.0 if ispos[order[s]] else 0.0
    n_high = n_pop - start
    n_copy = s_size - n_high
    new = np.empty((s_size, k), np.int64)
    for s in range(s_size):
        src = order[start + _randint(state, n_high)] if s < n_copy else order[start + s - n_copy]
        for j in range(k):
            new[s, j] = pop[src, j]
    for s in range(s_size):
        for j in range(k):
            cur[s, j] = new[s, j]
    return start, sc[start - 1], sh[start - 1], n_copy


@_njit
def _perturbate(iranks, hashes, n, k, d, chunks, clen, csum, chunk_last, cache, member, s, ns_arr, h_arr, cand,
                bscore, bhash, iters, state) -> int:
    """fgsea's MCMC step on sample ``s``: ``iters`` proposals (swap a random member for a random gene), each
    kept only if the sample's ``(positive ES, hash)`` stays above the level's bound. Returns the number of
    accepted moves.

    The sample is stored as ``chunks[s, c, :clen[s, c]]`` (sorted positions split at ``chunk_last``) with
    per-chunk weight sums ``csum``, so a proposal is scored in ``O(sqrt(k))``: chunks that cannot reach the
    bound are skipped. Two bounds decide that: fgsea's (the chunk's whole weight without its misses) and a
    cached exact chunk maximum (``cache[s, c] = valid, max, misses before the last member, NS it was computed
    at``), which stays an upper bound as NS changes and is recomputed only after the chunk changed. A proposal
    is scored before the sample is changed, so a rejected one costs no undo. ``cand[s] = (valid, member, X,
    Y)`` is fgsea's candidate: a member whose running sum exceeds the bound; if it still does after the swap
    the proposal is accepted at once. ``member[s]`` is a bitset of the sample's genes (64 per word): whether the
    new gene is already in the sample is one bit, and its place in its chunk is found while the chunk is
    shifted for it, only when the swap is kept (scanning the chunk on every proposal took a fifth of the time).
    """
    n_chunks = chunk_last.size
    ns = ns_arr[s]
    h = h_arr[s]
    has_cand = cand[s, 0] == 1
    cand_val = cand[s, 1]
    cand_x = cand[s, 2]
    cand_y = cand[s, 3]
    moves = 0
    for _ in range(iters):
        t = _randint(state, k)
        # the t-th member's chunk and place, without a data-dependent exit (a mispredicted branch per proposal)
        oc = 0
        pre = 0
        acc = 0
        for c in range(n_chunks):
            acc += clen[s, c]
            le = np.int64(acc <= t)
            oc += le
            pre += clen[s, c] * le
        oi = t - pre
        old_val = chunks[s, oc, oi]
        new_val = _randint(state, n)
        nc = 0  # the new gene's chunk: chunk ends at or below it (a gene -> chunk table cost more to rebuild per level)
        for c in range(n_chunks - 1):
            nc += np.int64(chunk_last[c] <= new_val)
        if (member[s, new_val >> 6] >> np.uint64(new_val & 63)) & np.uint64(1):
            if new_val == old_val:
                moves += 1
            continue
        r_old = iranks[old_val]
        r_new = iranks[new_val]
        ns2 = ns - r_old + r_new
        h2 = h ^ hashes[old_val] ^ hashes[new_val]
        strict = h2 <= bhash
        den = ns2 * d
        thr = bscore * float(den)
        c_has = has_cand and old_val != cand_val
        c_x = cand_x
        c_y = cand_y
        if c_has:
            if old_val < cand_val:
                c_x += 1
                c_y -= r_old
            if new_val < cand_val:
                c_x -= 1
                c_y += r_new
        ok = False
        if c_has and _exceeds(c_y * d - c_x * ns2, thr, den, bscore, strict):
            ok = True
            cand_x = c_x
            cand_y = c_y
        else:
            cur_x = 0
            cur_y = 0
            start = 0
            for i in range(n_chunks):
                end = chunk_last[i]
                cs = csum[s, i]
                cl = clen[s, i]
                virtual = False
                if i == oc:
                    cs -= r_old
                    cl -= 1
                    virtual = True
                if i == nc:
                    cs += r_new
                    cl += 1
                    virtual = True
                base = cur_y * d - cur_x * ns2
                walk = _exceeds(base + cs * d, thr, den, bscore, strict)
                if walk and not virtual and cache[s, i, 0] == 1:
                    slack = cache[s, i, 3] - ns2
                    bound_i = cache[s, i, 1] + (cache[s, i, 2] * slack if slack > 0 else 0)
                    walk = _exceeds(base + bound_i, thr, den, bscore, strict)
                if walk:
                    # exact chunk maximum of ly * d - lx * ns2 (ly, lx: weight and misses within the chunk)
                    best = -(1 << 62)
                    best_pos = -1
                    best_x = 0
                    best_y = 0
                    ly = 0
                    jl = 0
                    lx = 0
                    pending = i == nc
                    for j in range(clen[s, i]):
                        pos = chunks[s, i, j]
                        if pending and new_val < pos:
                            pending = False
                            ly += r_new
                            lx = new_val - start - jl
                            jl += 1
                            v = ly * d - lx * ns2
                            if v > best:
                                best = v
                                best_pos = new_val
                                best_x = lx
                                best_y = ly
                        if i == oc and j == oi:
                            continue
                        ly += iranks[pos]
                        lx = pos - start - jl
                        jl += 1
                        v = ly * d - lx * ns2
                        if v > best:
                            best = v
                            best_pos = pos
                            best_x = lx
                            best_y = ly
                    if pending:
                        ly += r_new
                        lx = new_val - start - jl
                        v = ly * d - lx * ns2
                        if v > best:
                            best = v
                            best_pos = new_val
                            best_x = lx
                            best_y = ly
                    if not virtual:
                        cache[s, i, 0] = 1
                        cache[s, i, 1] = best
                        cache[s, i, 2] = lx
                        cache[s, i, 3] = ns2
                    if best_pos >= 0 and _exceeds(base + best, thr, den, bscore, strict):
                        ok = True
                        has_cand = True
                        cand_val = best_pos
                        cand_x = cur_x + best_x
                        cand_y = cur_y + best_y
                        break
                cur_y += cs
                cur_x += end - start - cl
                start = end
        if not ok:
            continue
        moves += 1
        ns = ns2
        h = h2
        lo = clen[s, oc]
        for j in range(oi, lo - 1):
            chunks[s, oc, j] = chunks[s, oc, j + 1]
        clen[s, oc] = lo - 1
        j = clen[s, nc]
        while j > 0 and chunks[s, nc, j - 1] > new_val:
            chunks[s, nc, j] = chunks[s, nc, j - 1]
            j -= 1
        chunks[s, nc, j] = new_val
        clen[s, nc] += 1
        member[s, old_val >> 6] &= ~(np.uint64(1) << np.uint64(old_val & 63))
        member[s, new_val >> 6] |= np.uint64(1) << np.uint64(new_val & 63)
        csum[s, oc] -= r_old
        csum[s, nc] += r_new
        cache[s, oc, 0] = 0
        cache[s, nc, 0] = 0
    ns_arr[s] = ns
    h_arr[s] = h
    cand[s, 0] = 1 if has_cand else 0
    cand[s, 1] = cand_val
    cand[s, 2] = cand_x
    cand[s, 3] = cand_y
    return moves


@_njit
def _mcmc_level(iranks, hashes, cur, k, d, bscore, bhash, state, chunks, clen, csum, cache, member) -> None:
    """fgsea's MCMC at one level: move every sample of ``cur`` (sorted positions) while keeping its
    ``(positive ES, hash)`` above ``(bscore, bhash)``; rounds of ``k / 10`` proposals per sample until
    ``sample_size * k / 2`` moves were accepted, then as many rounds again.

    ``chunks`` (samples x chunks x k), ``clen``, ``csum``, ``cache`` and ``member`` (samples x
    ``n // 64 + 1`` words, all 0 between levels) are work space, allocated once per ruler; the number of chunks
    is ``clen.shape[1]``.
    """
    n = iranks.size
    s_size = cur.shape[0]
    n_chunks = clen.shape[1]
    chunk_last = np.empty(n_chunks, np.int64)
    chunk_last[n_chunks - 1] = n
    clen[:, :] = 0
    csum[:, :] = 0
    cache[:, :, 0] = 0
    ns_arr = np.zeros(s_size, np.int64)
    h_arr = np.zeros(s_size, np.uint64)
    cand = np.zeros((s_size, 4), np.int64)
    tmp = np.empty(s_size, np.int64)
    pos = 0
    for i in range(n_chunks - 1):
        pos += (k + i) // n_chunks
        for s in range(s_size):
            tmp[s] = cur[s, pos]
        chunk_last[i] = _median(tmp)
    for s in range(s_size):
        c = 0
        ns = 0
        for j in range(k):
            p = cur[s, j]
            member[s, p >> 6] |= np.uint64(1) << np.uint64(p & 63)
            while chunk_last[c] <= p:
                c += 1
            chunks[s, c, clen[s, c]] = p
            clen[s, c] += 1
            csum[s, c] += iranks[p]
            ns += iranks[p]
        ns_arr[s] = ns
        h_arr[s] = _set_hash(hashes, cur[s], k)
    need_accepted = (s_size * k) // 2
    iters = max(1, int(k * 0.1))
    accepted = 0
    rounds = 0
    total_rounds = -1
    while total_rounds < 0 or rounds < total_rounds:
        for s in range(s_size):
            accepted += _perturbate(iranks, hashes, n, k, d, chunks, clen, csum, chunk_last, cache, member, s,
                                    ns_arr, h_arr, cand, bscore, bhash, iters, state)
        rounds += 1
        if total_rounds < 0 and accepted >= need_accepted:
            total_rounds = 2 * rounds
    for s in range(s_size):
        j = 0
        for c in range(n_chunks):
            for q in range(clen[s, c]):
                cur[s, j] = chunks[s, c, q]
                member[s, cur[s, j] >> 6] = np.uint64(0)
                j += 1


@_njit
def _random_sets(n: int, k: int, count: int, state: np.ndarray) -> np.ndarray:
    """``count`` uniform random ``k``-subsets of ``range(n)``, each sorted (bucket sort, then insertion sort)."""
    out = np.empty((count, k), np.int64)
    used = np.zeros(n, np.bool_)
    buf = np.empty(k, np.int64)
    start = np.empty(k + 1, np.int64)
    for s in range(count):
        start[:] = 0
        for j in range(k):
            x = _randint(state, n)
            while used[x]:
                x = _randint(state, n)
            used[x] = True
            buf[j] = x
            start[(x * k) // n + 1] += 1
        for b in range(k):
            start[b + 1] += start[b]
        for j in range(k):
            x = buf[j]
            b = (x * k) // n
            out[s, start[b]] = x
            start[b] += 1
            used[x] = False
        for j in range(1, k):
            x = out[s, j]
            i = j
            while i > 0 and out[s, i - 1] > x:
                out[s, i] = out[s, i - 1]
                i -= 1
            out[s, i] = x
    return out


@_njit
def _grow(a: np.ndarray) -> np.ndarray:
    """``a`` with twice as many rows (the new ones uninitialised)."""
    b = np.empty((2 * a.shape[0], a.shape[1]))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            b[i, j] = a[i, j]
    return b


@_njit
def _ruler(iranks: np.ndarray, k: int, sample_size: int, first_size: int, targets: np.ndarray, log_eps: float,
           log_check: float, log_limit: float, seed: np.uint64):
    """Build the multilevel ruler (fgsea's EsRuler) for sets of size ``k`` up to the positive ES ``targets[0]``.

    ``targets`` are the scores of the sets the ruler serves, highest first. Once the ruler's probability falls
    below ``exp(log_check)``, the highest are tried against the tail bound
    (:func:`tail_bound_log`): those whose bound is below ``log_limit`` need
    no level (they are reported at the floor) and the ruler stops at the next target instead. Levels, and so
    the p-values of the other sets, do not depend on it.

    Level 0 is plain Monte Carlo: ``first_size`` uniform random sets, cut below the top ``sample_size``
    (fgsea starts with ``sample_size`` sets cut at the median; a larger first level replaces its first
    ``log2(first_size / sample_size)`` MCMC levels at a fraction of their cost and with less variance).
    Every further level is fgsea's: cut at the median, duplicate the upper half, MCMC above the cut.

    Returns ``(n_levels, first, levels, n_below)``: ``n_below`` is how many of ``targets`` the bound put below the
    floor; ``first`` holds level 0's sorted set scores and whether each set's
    signed ES was >= 0 (1.0 or 0.0); row ``l`` of ``levels`` holds the same for level ``l >= 1`` (columns
    ``:sample_size`` and ``sample_size:2 * sample_size``), and for every level (row 0: level 0) the index of
    the first set above the cut and the cut's score (last two columns). ``n_levels == 0`` means the ruler
    could not start (all random sets equal).
    """
    n = iranks.size
    d = n - k
    s_size = sample_size
    state = np.empty(1, np.uint64)
    state[0] = seed
    hashes = np.empty(n, np.uint64)
    for i in range(n):
        hashes[i] = _next_u64(state)
    cur = np.empty((s_size, k), np.int64)
    first = np.empty((2, first_size))  # level 0: sorted scores, signed ES >= 0 (1.0 / 0.0)
    # level l >= 1 in row l: sorted scores, signed ES >= 0, then (row 0 too) the cut's index and score
    lvl = np.empty((64, 2 * s_size + 2))
    start, bscore, bhash, n_copy = _resample(iranks, hashes, _random_sets(n, k, first_size, state), first_size,
                                             cur, k, d, state, first[0], first[1])
    if start < 0:
        return 0, first, lvl[:0].copy(), 0
    lvl[0, 2 * s_size] = start
    lvl[0, 2 * s_size + 1] = bscore
    n_levels = 1
    fresh = n_copy == 0  # independent sets above the cut: no MCMC needed before the next cut
    n_chunks = max(1, int(math.sqrt(k)))  # as fgsea; a data-structure choice only (results do not depend on it)
    chunks = np.empty((s_size, n_chunks, k), np.int64)
    clen = np.empty((s_size, n_chunks), np.int64)
    csum = np.empty((s_size, n_chunks), np.int64)
    cache = np.empty((s_size, n_chunks, 4), np.int64)
    member = np.zeros((s_size, (n >> 6) + 1), np.uint64)
    adj_log = 0.0
    n_below = 0
    checked = False
    while bscore < targets[n_below]:
        size = first_size if n_levels == 1 else s_size
        adj_log += _digamma(size - start + 1.0) - _digamma(size + 1.0)
        if adj_log < log_eps:
            break
        if adj_log < log_check and not checked:
            checked = True
            while n_below < targets.size and tail_bound_log(iranks, k, targets[n_below], log_limit) <= log_limit:
                n_below += 1
            if n_below == targets.size or bscore >= targets[n_below]:
                break
        if not fresh:
            _mcmc_level(iranks, hashes, cur, k, d, bscore, bhash, state, chunks, clen, csum, cache, member)
        fresh = False
        if n_levels == lvl.shape[0]:
            lvl = _grow(lvl)
        start, bscore, bhash, n_copy = _resample(iranks, hashes, cur, s_size, cur, k, d, state,
                                                 lvl[n_levels, :s_size], lvl[n_levels, s_size:2 * s_size])
        if start < 0:
            break
        lvl[n_levels, 2 * s_size] = start
        lvl[n_levels, 2 * s_size + 1] = bscore
        n_levels += 1
    return n_levels, first, lvl[:n_levels].copy(), n_below


@_njit
def _oriented_scores(iranks: np.ndarray, offsets: np.ndarray, positions: np.ndarray, negative: np.ndarray):
    """Positive ES, in a ruler's integer scale, of each set (reversed ranking for sets with negative ES)."""
    n = iranks.size
    m = offsets.size - 1
    out = np.zeros(m)
    buf = np.empty(n, np.int64)
    rev = iranks[::-1].copy()
    for i in range(m):
        lo = offsets[i]
        k = offsets[i + 1] - lo
        if negative[i]:
            for j in range(k):
                buf[j] = n - 1 - positions[lo + k - 1 - j]
            out[i] = _positive_score(rev, buf, k, n - k)[0]
        else:
            out[i] = _positive_score(iranks, positions[lo:lo + k], k, n - k)[0]
    return out


# ----------------------------------------------------------------------------------------------------------
# Python side
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Ruler:
    """A built ruler: per level (level 0 first) the sorted set scores, their sign flags, cut index and cut."""

    scores: list[np.ndarray]
    is_positive: list[np.ndarray]
    start: np.ndarray
    bound: np.ndarray

    @classmethod
    def from_kernel(cls, result: tuple) -> "_Ruler":
        n_levels, first, levels = result[:3]
        if n_levels == 0:
            return cls([], [], np.zeros(0, np.int64), np.zeros(0))
        s_size = (levels.shape[1] - 2) // 2
        scores = [first[0]] + [row[:s_size] for row in levels[1:]]
        positive = [first[1] > 0.5] + [row[s_size:2 * s_size] > 0.5 for row in levels[1:]]
        return cls(scores, positive, levels[:, -2].astype(np.int64), levels[:, -1].copy())


def _beta_mean_log(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """fgsea's ``betaMeanLog(a, b) = digamma(a) - digamma(b + 1)``: E[log] of a Beta(a, b - a + 1) variable."""
    return digamma(np.asarray(a, dtype=float)) - digamma(np.asarray(b, dtype=float) + 1.0)


def _ruler_pvalues(ruler: _Ruler, scores: np.ndarray) -> np.ndarray:
    """fgsea's ``EsRuler::getPvalue`` (sign = false): P(positive ES >= score and signed ES >= 0).

    Generalised to levels of different sizes (level 0 is larger).
    """
    n_levels = len(ruler.scores)
    if n_levels == 0:
        return np.full(scores.size, np.nan)
    sizes = np.array([len(s) for s in ruler.scores], dtype=float)
    n_high = sizes - ruler.start
    level_log = np.concatenate([[0.0], np.cumsum(_beta_mean_log(n_high + 1, sizes))])
    out = np.empty(scores.size)
    for i, es in enumerate(scores):
        level = int(np.searchsorted(ruler.bound, es, side="left"))  # first level with es <= its cut
        if level < n_levels:
            sc = ruler.scores[level]
            pos = ruler.is_positive[level]
            start = ruler.start[level]
            count = int(pos[start:].sum() + (pos[:start] & (sc[:start] >= es)).sum())
            log_p = level_log[level] + _beta_mean_log(max(count, 1), sizes[level])
        else:
            start = ruler.start[-1]
            sc = ruler.scores[-1][start:]
            pos = ruler.is_positive[-1][start:]
            count = int((pos & (sc >= es)).sum())
            log_p = level_log[n_levels] + _beta_mean_log(max(count, 1), sizes[-1] - start)
        out[i] = min(1.0, max(0.0, math.exp(float(log_p))))
    return out


def _multilevel_error(pvalue: np.ndarray, sample_size: int) -> np.ndarray:
    """fgsea's ``multilevelError``: expected SD of log2(p) of a multilevel estimate."""
    tri = float(polygamma(1, (sample_size + 1) / 2) - polygamma(1, sample_size + 1))
    return np.sqrt(np.floor(-np.log2(pvalue) + 1) * tri) / math.log(2)


def _simple_error(n_more_extreme: np.ndarray, nperm: int) -> np.ndarray:
    """fgseaMultilevel's accuracy of the crude permutation estimate (half the log2 width of its 95% CI)."""
    n_more_extreme = np.asarray(n_more_extreme, dtype=float)
    crude = np.log2((n_more_extreme + 1) / (nperm + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(n_more_extreme > 0,
                        np.log2(beta_dist.ppf(0.025, np.maximum(n_more_extreme, 1e-300),
                                              nperm - n_more_extreme + 1)), -np.inf)
        right = np.where(n_more_extreme < nperm,
                         np.log2(beta_dist.ppf(0.975, n_more_extreme + 1,
                                               np.maximum(nperm - n_more_extreme, 1e-300))), 0.0)
    return 0.5 * np.maximum(crude - left, right - crude)


def _bh(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN and is not counted, as R's ``p.adjust``)."""
    out = np.full(pvalues.size, np.nan)
    ok = np.flatnonzero(~np.isnan(pvalues))
    if ok.size == 0:
        return out
    p = pvalues[ok]
    order = np.argsort(p, kind="mergesort")
    ranked = p[order] * ok.size / np.arange(1, ok.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out[ok[order]] = np.minimum(adjusted, 1.0)
    return out


def _run_tasks(tasks: Sequence[Callable[[], object]], threads: int) -> list:
    """Run independent tasks (numba kernels that release the GIL); results in task order."""
    if threads <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [future.result() for future in futures]


def _stream_seeds(seed: int, tag: int, count: int, *extra: int) -> np.ndarray:
    return np.random.SeedSequence([int(seed), tag, *extra]).generate_state(count, np.uint64)


def order_ranking(ranking: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Gene symbols and statistics in analysis order: decreasing statistic, ties by gene symbol.

    Parameters
    ----------
    ranking : pandas.Series
        Statistic per gene (index: unique gene symbols).

    Returns
    -------
    genes : numpy.ndarray of str
    stats : numpy.ndarray of float
    """
    genes = ranking.index.astype(str).to_numpy()
    stats = ranking.to_numpy(dtype=float)
    order = np.lexsort((genes, -stats))
    return genes[order], stats[order]


def _check_ranking(ranking: pd.Series) -> None:
    if not isinstance(ranking, pd.Series):
        raise TypeError(f"ranking must be a pandas Series (index: gene symbols), not {type(ranking).__name__}")
    if ranking.index.has_duplicates:
        dups = ranking.index[ranking.index.duplicated()].unique()
        raise ValueError(f"ranking has {len(dups)} duplicated gene(s) (e.g. {', '.join(map(str, dups[:5]))}); "
                         "deduplicate before ranking")
    if ranking.size < 3:
        raise ValueError(f"ranking has {ranking.size} genes; at least 3 are needed")
    values = pd.to_numeric(ranking, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all():
        bad = ranking.index[~np.isfinite(values)]
        raise ValueError(f"ranking has {len(bad)} missing or infinite statistic(s) (e.g. "
                         f"{', '.join(map(str, bad[:5]))})")


def prerank(ranking: pd.Series, gene_sets: Mapping[str, Sequence[str]], min_size: int = 10,
            max_size: int = 500, nperm: int = 1000, seed: int = 42, threads: int = 1, *,
            sample_size: int = 101, eps: float = 1e-50) -> pd.DataFrame:
    """Preranked GSEA of one collection with fgsea's multilevel p-values.

    Parameters
    ----------
    ranking : pandas.Series
        Gene-level statistic (e.g. the Wald statistic), indexed by unique gene symbols. Genes are ordered by
        decreasing statistic; genes with equal statistics are ordered by symbol (ascending), so the result
        does not depend on the input order.
    gene_sets : mapping of str to sequence of str
        ``{term_id: [gene, ...]}``, one collection. Members absent from the ranking are ignored, repeated
        members count once.
    min_size, max_size : int
        Sets whose overlap with the ranking is outside ``[min_size, max_size]`` are not tested.
    nperm : int
        Random gene sets per set size for NES and the crude p-values (fgsea's ``nPermSimple``).
    seed : int
        Seed (>= 0) of every random stream; the same inputs and seed give the same table.
    threads : int
        Threads for the random-set null and the multilevel rulers; the result does not depend on it.
    sample_size : int
        Samples per multilevel level (fgsea's ``sampleSize``; made odd).
    eps : float
        Floor of the p-values (fgsea's ``eps``; positive: fgsea's ``eps = 0``, no floor, is not offered).

    Returns
    -------
    pandas.DataFrame
        One row per tested set, columns ``term_id, size, es, nes, pvalue, fdr, leading_edge`` (``size``: the
        overlap with the ranking; ``leading_edge``: ``;``-joined symbols), sorted by ``pvalue`` then
        ``term_id``. ``nes``, ``pvalue`` and ``fdr`` are NaN where fewer than 10 of ``nperm`` random sets have
        the sign of the set's ES (very unbalanced statistics; fgsea does the same); ``fdr`` is the
        Benjamini-Hochberg adjustment over all tested sets with a p-value.

    Raises
    ------
    ValueError
        On duplicated genes or non-finite statistics in ``ranking``, or invalid parameters.
    """
    _check_ranking(ranking)
    if min_size < 1 or max_size < min_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")
    if nperm < 1 or threads < 1 or sample_size < 3 or not 0 < eps < 1 or seed < 0:
        raise ValueError("need nperm >= 1, threads >= 1, sample_size >= 3, 0 < eps < 1 and seed >= 0")
    if isinstance(gene_sets, (str, bytes)) or not isinstance(gene_sets, Mapping):
        raise TypeError("gene_sets must be a mapping {term_id: [genes]}")
    sample_size = int(sample_size) | 1

    genes, stats = order_ranking(ranking)
    n = genes.size
    if n >= _MAX_GENES:
        raise ValueError(f"ranking has {n} genes; at most {_MAX_GENES - 1} are supported")
    weights = np.abs(stats)
    index = {g: i for i, g in enumerate(genes)}
    max_size = min(max_size, n - 1)

    terms: list[str] = []
    members: list[np.ndarray] = []
    for term_id, set_genes in gene_sets.items():
        if isinstance(set_genes, str):
            raise TypeError(f"gene set {term_id!r} is a string; give a list of gene symbols")
        pos = np.unique(np.fromiter((index[g] for g in set_genes if g in index), dtype=np.int64))
        if min_size <= pos.size <= max_size:
            terms.append(str(term_id))
            members.append(pos)
    if not terms:
        return pd.DataFrame({"term_id": pd.Series(dtype=str), "size": pd.Series(dtype=np.int64),
                             "es": pd.Series(dtype=float), "nes": pd.Series(dtype=float),
                             "pvalue": pd.Series(dtype=float), "log2err": pd.Series(dtype=float),
                             "fdr": pd.Series(dtype=float), "leading_edge": pd.Series(dtype=str)},
                            columns=RESULT_COLUMNS)
    sizes = np.array([p.size for p in members], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    positions = np.concatenate(members).astype(np.int64)

    started = time.perf_counter()
    es, peak = _observed_es(weights, offsets, positions)
    LOG.info("GSEA: %d genes ranked, %d sets of %d-%d genes; random-set null: %d permutations x %d set sizes, "
             "%d thread(s) ...", n, len(terms), int(sizes.min()), int(sizes.max()), nperm, np.unique(sizes).size,
             threads)

    # Random-gene-set null: one column per distinct size.
    distinct = np.unique(sizes)
    max_k = int(distinct[-1])
    size_col = np.full(max_k + 1, -1, dtype=np.int64)
    size_col[distinct] = np.arange(distinct.size)
    rand_es = np.empty((nperm, distinct.size))
    perm_seeds = _stream_seeds(seed, 1, nperm)
    blocks = [(b, min(b + _PERM_BLOCK, nperm)) for b in range(0, nperm, _PERM_BLOCK)]
    _run_tasks([lambda b0=b0, b1=b1: _null_block(weights, max_k, size_col, perm_seeds[b0:b1], rand_es, b0)
                for b0, b1 in blocks], threads)
    summary = _null_summary(rand_es, size_col[sizes], es)
    le_es, ge_es, le_zero, ge_zero, le_sum, ge_sum = summary.T

    with np.errstate(divide="ignore", invalid="ignore"):
        ge_mean = np.where(ge_zero > 0, ge_sum / ge_zero, 0.0)
        le_mean = np.where(le_zero > 0, le_sum / le_zero, 0.0)
        norm = np.where(es > 0, ge_mean, np.abs(le_mean))
        nes = np.where(norm != 0, es / norm, np.nan)
    pvalue = np.minimum((1 + le_es) / (1 + le_zero), (1 + ge_es) / (1 + ge_zero))
    mode_fraction = np.where(es >= 0, ge_zero, le_zero)
    n_more_extreme = np.where(es > 0, ge_es, le_es)
    undefined = (mode_fraction < _MIN_MODE_FRACTION) | np.isnan(nes)
    if undefined.any():
        warnings.warn(f"{int(undefined.sum())} gene set(s) have fewer than {_MIN_MODE_FRACTION} of {nperm} random "
                      "sets with the sign of their ES (unbalanced statistics): NES and p-value set to NaN; a "
                      "larger nperm may help", RuntimeWarning, stacklevel=2)
    nes[undefined] = np.nan
    pvalue[undefined] = np.nan

    # Multilevel p-values where fgsea's rule prefers them to the crude estimate.
    simple_err = _simple_error(n_more_extreme, nperm)
    mult_err = _multilevel_error((n_more_extreme + 1) / (nperm + 1), sample_size)
    multilevel = ~undefined & (mult_err < simple_err) & (weights.sum() > 0)
    LOG.info("GSEA: null done (%.1f s); multilevel p-values for %d of %d sets ...", time.perf_counter() - started,
             int(multilevel.sum()), len(terms))
    if multilevel.any():
        negative = es < 0
        iranks = np.floor(weights * (_MAX_NS / weights.sum())).astype(np.int64)
        rev_iranks = iranks[::-1].copy()
        ml_scores = _oriented_scores(iranks, offsets, positions, negative)
        denom_prob = (mode_fraction + 1) / (nperm + 1)
        groups: dict[tuple[int, bool], np.ndarray] = {}
        for i in np.flatnonzero(multilevel):
            groups.setdefault((int(sizes[i]), bool(negative[i])), []).append(i)
        keys = sorted(groups)
        groups = {key: np.array(groups[key]) for key in keys}

        def cost(key: tuple[int, bool]) -> float:
            members_ = groups[key]
            return key[0] ** 1.5 * max(1.0, float(np.nanmax(np.abs(nes[members_])))) ** 2

        def build(key: tuple[int, bool]) -> tuple[_Ruler, np.ndarray]:
            """The ruler of one size and sign, and the members a tail bound put below the floor."""
            k, neg = key
            members_ = groups[key]
            log_eps = math.log(eps * float(denom_prob[members_].min()))
            order = members_[np.argsort(-ml_scores[members_], kind="stable")]
            seed_k = _stream_seeds(seed, 2, 1, k, int(neg))[0]
            result = _ruler(rev_iranks if neg else iranks, k, sample_size, _FIRST_LEVEL_FACTOR * sample_size,
                            ml_scores[order], log_eps, _BOUND_CHECK * log_eps, log_eps - _BOUND_MARGIN, seed_k)
            return _Ruler.from_kernel(result), order[:result[3]]

        by_cost = sorted(keys, key=lambda key: (-cost(key), key))
        rulers = dict(zip(by_cost, _run_tasks([lambda key=key: build(key) for key in by_cost], threads)))
        n_below = 0
        for key in keys:
            ruler, below = rulers[key]
            members_ = np.setdiff1d(groups[key], below)
            n_below += below.size
            pvalue[below] = eps
            if members_.size:
                cond = _ruler_pvalues(ruler, ml_scores[members_])
                pvalue[members_] = np.minimum(1.0, cond / denom_prob[members_])
        pvalue = np.where(pvalue < eps, eps, pvalue)
        if n_below:
            LOG.info("GSEA: %d set(s) below the p-value floor by a tail bound (no ruler levels for them)", n_below)

    # fgsea's log2err: the expected SD of log2(p), of the multilevel estimate where it was used, else of the
    # crude one; NaN where the p-value is undefined or at the eps floor (a bound, not an estimate).
    log2err = np.where(multilevel, _multilevel_error(np.maximum(pvalue, 1e-300), sample_size), simple_err)
    log2err = np.where(np.isnan(pvalue) | (pvalue <= eps), np.nan, log2err)
    fdr = _bh(pvalue)
    LOG.info("GSEA: p-values done (%.1f s in all); log2err median %.2f, max %.2f", time.perf_counter() - started,
             float(np.nanmedian(log2err)) if np.isfinite(log2err).any() else float("nan"),
             float(np.nanmax(log2err)) if np.isfinite(log2err).any() else float("nan"))

    leading = []
    for i, pos in enumerate(members):
        if es[i] >= 0:
            lead = genes[pos[: peak[i] + 1]]
        else:
            lead = genes[pos[peak[i]:][::-1]]
        leading.append(";".join(lead))

    table = pd.DataFrame({"term_id": terms, "size": sizes, "es": es, "nes": nes, "pvalue": pvalue,
                          "log2err": log2err, "fdr": fdr, "leading_edge": leading}, columns=RESULT_COLUMNS)
    table = table.sort_values(["pvalue", "term_id"], kind="mergesort", na_position="last")
    return table.reset_index(drop=True)

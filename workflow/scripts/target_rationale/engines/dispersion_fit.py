"""Dispersion estimates as R DESeq2 (1.38.3) computes them: its line search and grid, for all genes at once.

DESeq2 maximises the Cox-Reid-adjusted log posterior of ``a = log(alpha)`` (``fitDisp`` in its C++ code) by
gradient ascent with an Armijo line search: from the start ``a``, propose ``a + kappa x dlp`` (``kappa`` from 1,
the proposal kept within [-30, 10]), accept it when the posterior rises by at least ``1e-4 x kappa x dlp^2``
(then ``kappa`` grows by 1.1 up to 1 and halves every fifth acceptance), else halve ``kappa``; stop when an
accepted step raises the posterior by less than ``tol`` (1e-6), when ``a`` falls below ``log(minDisp / 10)``, or
after 100 steps. The result is as precise as that rule makes it (a few 1e-5 in log), and DESeq2's later steps
(the trend, the prior variance, which genes are refitted on a grid) read it, so parity needs the same rule, not
a more precise optimum. Genes the search does not settle go to DESeq2's grid (``fitDispGrid``: 20 points over
``[log(1e-8), log(max(10, samples))]``, then 20 around the best).

:func:`genewise_dispersions` and :func:`map_dispersions` add the rules of ``estimateDispersionsGeneEst`` and
``estimateDispersionsMAP`` around them. The log posterior is DESeq2's, constants included (its "no increase"
rule compares values relative to it).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from target_rationale.engines.gram import gram, outer_rows

#: DESeq2's line-search settings (``kappa_0``, ``dispTol``, ``maxit``, Armijo's ``epsilon``) and bounds on log alpha.
KAPPA_0 = 1.0
TOL = 1e-6
MAXIT = 100
ARMIJO = 1e-4
LOWEST, HIGHEST = -30.0, 10.0
#: Points of each of DESeq2's two grids.
GRID_POINTS = 20


def log_posterior(log_alpha: np.ndarray, counts: np.ndarray, mu: np.ndarray, design: np.ndarray,
                  prior_mean: np.ndarray | None, prior_var: float) -> np.ndarray:
    """DESeq2's ``log_posterior`` of each gene (column of ``counts`` and ``mu``) at ``log_alpha``.

    ``prior_mean`` None: no prior (DESeq2's ``use_prior = FALSE``).
    """
    alpha = np.exp(log_alpha)
    inverse = 1.0 / alpha
    w = 1.0 / (1.0 / mu + alpha)
    cr = -0.5 * np.linalg.slogdet(gram(w, outer_rows(design), design.shape[1]))[1]
    ll = (gammaln(counts + inverse) - gammaln(inverse) - counts * np.log(mu + inverse)
          - inverse * np.log(1.0 + mu * alpha)).sum(axis=0)
    prior = 0.0 if prior_mean is None else -0.5 * (log_alpha - prior_mean) ** 2 / prior_var
    return ll + prior + cr


def dlog_posterior(log_alpha: np.ndarray, counts: np.ndarray, mu: np.ndarray, design: np.ndarray,
                   prior_mean: np.ndarray | None, prior_var: float) -> np.ndarray:
    """DESeq2's ``dlog_posterior``: the derivative of :func:`log_posterior` in log alpha."""
    alpha = np.exp(log_alpha)
    inverse = 1.0 / alpha
    w = 1.0 / (1.0 / mu + alpha)
    outer = outer_rows(design)
    b = gram(w, outer, design.shape[1])
    db = gram(-(w ** 2), outer, design.shape[1])
    cr = -0.5 * np.einsum("gij,gji->g", np.linalg.inv(b), db)
    ll = inverse ** 2 * (digamma(inverse) + np.log(1.0 + mu * alpha) - mu * alpha / (1.0 + mu * alpha)
                         - digamma(counts + inverse) + counts / (mu + inverse)).sum(axis=0)
    prior = 0.0 if prior_mean is None else -(log_alpha - prior_mean) / prior_var
    return (ll + cr) * alpha + prior


def line_search(counts: np.ndarray, mu: np.ndarray, design: np.ndarray, start: np.ndarray,
                prior_mean: np.ndarray | None, prior_var: float, min_log_alpha: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """DESeq2's ``fitDisp`` for every gene (see the module docstring).

    Parameters
    ----------
    counts, mu : numpy.ndarray
        Samples x genes.
    design : numpy.ndarray
        Samples x coefficients.
    start : numpy.ndarray
        Log alpha to start from, per gene.
    prior_mean : numpy.ndarray or None
        The prior's mean of log alpha per gene (None: no prior).
    prior_var : float
        The prior's variance.
    min_log_alpha : float
        The search stops when log alpha falls below this.

    Returns
    -------
    tuple of numpy.ndarray
        Log alpha, steps taken, the log posterior at the start and at the end (DESeq2's ``log_alpha``, ``iter``,
        ``initial_lp``, ``last_lp``).
    """
    genes = counts.shape[1]
    a = np.asarray(start, dtype=float).copy()

    def sub(cols: np.ndarray) -> tuple:
        return counts[:, cols], mu[:, cols], design, None if prior_mean is None else prior_mean[cols], prior_var

    every = np.arange(genes)
    lp = log_posterior(a, *sub(every))
    dlp = dlog_posterior(a, *sub(every))
    initial = lp.copy()
    kappa = np.full(genes, KAPPA_0)
    steps = np.zeros(genes, dtype=int)
    accepts = np.zeros(genes, dtype=int)
    active = np.ones(genes, dtype=bool)
    for _ in range(MAXIT):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        steps[idx] += 1
        ai, di, ki = a[idx], dlp[idx], kappa[idx]
        proposal = ai + ki * di
        with np.errstate(divide="ignore", invalid="ignore"):
            ki = np.where(proposal < LOWEST, (LOWEST - ai) / di, ki)
            ki = np.where(proposal > HIGHEST, (HIGHEST - ai) / di, ki)
        trial = ai + ki * di
        theta = -log_posterior(trial, *sub(idx))
        accepted = theta <= -lp[idx] - ki * ARMIJO * di ** 2
        kappa[idx] = np.where(accepted, ki, ki / 2.0)
        acc = idx[accepted]
        if not len(acc):
            continue
        accepts[acc] += 1
        a[acc] = trial[accepted]
        new_lp = -theta[accepted]
        change = new_lp - lp[acc]
        small = change < TOL
        lp[acc[small]] = new_lp[small]
        active[acc[small]] = False
        rest = ~small
        low = rest & (a[acc] < min_log_alpha)
        active[acc[low]] = False  # stopped before its posterior is kept, as in DESeq2
        go = acc[rest & ~low]
        if len(go):
            lp[go] = new_lp[rest & ~low]
            dlp[go] = dlog_posterior(a[go], *sub(go))
            kappa[go] = np.minimum(kappa[go] * 1.1, KAPPA_0)
            fifth = accepts[go] % 5 == 0
            kappa[go[fifth]] /= 2.0
    return a, steps, initial, lp


def grid_search(counts: np.ndarray, mu: np.ndarray, design: np.ndarray, prior_mean: np.ndarray | None,
                prior_var: float) -> np.ndarray:
    """DESeq2's ``fitDispGridWrapper``: log alpha of the best of 20 points over ``[log(1e-8), log(max(10,
    samples))]``, then of 20 points within one step of it."""
    n, genes = counts.shape
    grid = np.linspace(np.log(1e-8), np.log(max(10, n)), GRID_POINTS)
    delta = grid[1] - grid[0]

    def best(points: np.ndarray) -> np.ndarray:  # points: (GRID_POINTS, genes)
        values = np.stack([log_posterior(row, counts, mu, design, prior_mean, prior_var) for row in points])
        return points[np.argmax(values, axis=0), np.arange(genes)]

    coarse = best(np.repeat(grid[:, None], genes, axis=1))
    fine = np.stack([np.linspace(c - delta, c + delta, GRID_POINTS) for c in coarse], axis=1)
    return best(fine)


def genewise_dispersions(counts: np.ndarray, mu: np.ndarray, design: np.ndarray, alpha_init: np.ndarray,
                         min_disp: float, max_disp: float) -> tuple[np.ndarray, np.ndarray]:
    """DESeq2's gene-wise dispersions (``estimateDispersionsGeneEst``, one iteration) from ``alpha_init``.

    The line search from the start; a gene whose posterior did not rise by a millionth keeps its start; a gene
    the search did not settle (100 steps, or stopped at its first) and above ``10 x min_disp`` goes to the
    grid; all within ``[min_disp, max_disp]``.

    Returns
    -------
    tuple of numpy.ndarray
        Dispersions and whether the line search settled, per gene.
    """
    log_alpha, steps, initial, last = line_search(counts, mu, design, np.log(alpha_init), None, 1.0,
                                                  np.log(min_disp / 10))
    disp = np.minimum(np.exp(log_alpha), max_disp)
    no_increase = last < initial + np.abs(initial) / 1e6
    disp[no_increase] = alpha_init[no_increase]
    converged = (steps < MAXIT) & (steps != 1)
    refit = ~converged & (disp > min_disp * 10)
    if refit.any():
        disp[refit] = np.exp(grid_search(counts[:, refit], mu[:, refit], design, None, 1.0))
    return np.clip(disp, min_disp, max_disp), converged


def map_dispersions(counts: np.ndarray, mu: np.ndarray, design: np.ndarray, genewise: np.ndarray,
                    fitted: np.ndarray, prior_var: float, min_disp: float, max_disp: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """DESeq2's maximum a posteriori dispersions (``estimateDispersionsMAP``, before its outlier rule).

    Start at the gene-wise estimate where it is above a tenth of the trend, else at the trend; prior
    ``N(log trend, prior_var)`` on log alpha; genes the search did not settle in 100 steps go to the grid.

    Returns
    -------
    tuple of numpy.ndarray
        Dispersions within ``[min_disp, max_disp]`` and whether the line search settled, per gene.
    """
    start = np.where(genewise > 0.1 * fitted, genewise, fitted)
    start = np.where(np.isnan(start), fitted, start)
    prior_mean = np.log(fitted)
    log_alpha, steps, _, _ = line_search(counts, mu, design, np.log(start), prior_mean, prior_var,
                                         np.log(min_disp / 10))
    disp = np.exp(log_alpha)
    converged = steps < MAXIT
    if (~converged).any():
        disp[~converged] = np.exp(grid_search(counts[:, ~converged], mu[:, ~converged], design,
                                              prior_mean[~converged], prior_var))
    return np.clip(disp, min_disp, max_disp), converged

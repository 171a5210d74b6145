"""DESeq2's fallback for a gene whose IRLS fit of the negative-binomial GLM does not settle (``fitNbinomGLMsOptim``).

Where IRLS diverges (a coefficient beyond 30 in natural log) or does not settle in 100 steps, DESeq2 (1.38.3)
maximises the gene's log posterior over log2 fold changes, ``sum log NB(k | nf x 2^(x p), 1 / alpha) +
sum log N(p | 0, 1 / lambda)`` with ``lambda = 1e-6``, by R's ``optim(method = "L-BFGS-B")`` within [-30, 30]
from IRLS's last step where that is within the bounds (in log2), else from the IRLS start (its natural-log values
taken as log2 ones, as DESeq2 does), with R's numerical gradient (central differences of step 1e-3, shortened at a
bound) and R's defaults (5 corrections, ``factr = 1e7``, ``pgtol = 0``, 100 iterations). Such a gene has a group
of zeros, so its posterior is flat far out and the optimiser stops where its rule says: the same rule is what
makes the same answer. Here scipy's L-BFGS-B (the same algorithm) runs with that gradient and those settings.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, xlog1py

from target_rationale.core.stats import normal_logpdf

#: DESeq2's bound on log2 fold changes in the fallback, and its ridge ``lambda`` on them (in every fit and Wald test).
LARGE = 30.0
LFC_RIDGE = 1e-6
#: R's ``optim`` defaults for L-BFGS-B.
NDEPS = 1e-3
FACTR = 1e7
LMM = 5
MAXIT = 100


def nb_coefficient(counts: np.ndarray, size: float) -> np.ndarray:
    """The part of :func:`nb_logpmf` that does not depend on ``p`` (the same for every step of a gene's fit)."""
    return gammaln(size + counts) - gammaln(counts + 1) - gammaln(size)


def nb_logpmf(counts: np.ndarray, size: float, p: np.ndarray, coefficient: np.ndarray | None = None) -> np.ndarray:
    """``scipy.stats.nbinom.logpmf(counts, size, p)`` for counts >= 0, ``size > 0`` and ``0 < p <= 1``: the same
    formula and operations, without scipy.stats' argument handling, which took 90% of the fallback's time (a
    gene's objective is called ~1,600 times; ``tests/engines/test_glm_optim.py`` checks the numbers equal bit for
    bit). ``coefficient``: :func:`nb_coefficient` of these counts and size, if already computed. Outside those
    bounds it gives -inf or NaN where scipy gives NaN; the objective maps both to 1e300."""
    if coefficient is None:
        coefficient = nb_coefficient(counts, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return coefficient + size * np.log(p) + xlog1py(counts, -p)


def _gradient(objective, p: np.ndarray) -> np.ndarray:
    """R's ``optim`` numerical gradient for a bounded problem (``fmingr``)."""
    grad = np.empty_like(p)
    for i in range(len(p)):
        up, down = p.copy(), p.copy()
        eps_up = eps_down = NDEPS
        up[i] = p[i] + NDEPS
        if up[i] > LARGE:
            up[i] = LARGE
            eps_up = LARGE - p[i]
        down[i] = p[i] - NDEPS
        if down[i] < -LARGE:
            down[i] = -LARGE
            eps_down = p[i] + LARGE
        grad[i] = (objective(up) - objective(down)) / (eps_up + eps_down)
    return grad


def optim_fit(counts: np.ndarray, size_factors: np.ndarray, design: np.ndarray, dispersion: float,
              start: np.ndarray) -> tuple[np.ndarray, bool]:
    """One gene's coefficients as DESeq2's fallback finds them (see the module docstring).

    Parameters
    ----------
    counts, size_factors : numpy.ndarray
        The gene's counts and the samples' size factors.
    design : numpy.ndarray
        Samples x coefficients.
    dispersion : float
        The gene's dispersion.
    start : numpy.ndarray
        Where the optimiser starts, as log2 coefficients.

    Returns
    -------
    tuple
        Natural-log coefficients, and whether the optimiser reported convergence.
    """
    size = 1.0 / dispersion
    sd = np.sqrt(1.0 / LFC_RIDGE)
    coefficient = nb_coefficient(counts, size)

    def objective(p: np.ndarray) -> float:
        mu = size_factors * 2.0 ** (design @ p)
        value = -(nb_logpmf(counts, size, size / (size + mu), coefficient).sum() + normal_logpdf(p, sd).sum())
        return float(value) if np.isfinite(value) else 1e300

    result = minimize(objective, np.asarray(start, dtype=float), jac=lambda p: _gradient(objective, p),
                      method="L-BFGS-B", bounds=[(-LARGE, LARGE)] * design.shape[1],
                      options={"maxcor": LMM, "ftol": FACTR * np.finfo(float).eps, "gtol": 0.0, "maxiter": MAXIT})
    return result.x * np.log(2.0), bool(result.success)

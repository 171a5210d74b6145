"""DESeq2's fallback for a gene whose IRLS fit of the negative-binomial GLM does not settle (``fitNbinomGLMsOptim``).

Where IRLS diverges (a coefficient beyond 30 in natural log) or does not settle in 100 steps, DESeq2 (1.38.3)
maximises the gene's log posterior over log2 fold changes, ``sum log NB(k | nf x 2^(x p), 1 / alpha) +
sum log N(p | 0, 1 / lambda)`` with ``lambda = 1e-6``, by R's ``optim(method = "L-BFGS-B")`` within [-30, 30]
from IRLS's last step where that is within the bounds (in log2), else from the IRLS start (its natural-log values
taken as log2 ones, as DESeq2 does), with R's numerical gradient (central differences of step 1e-3, shortened at a
bound) and R's defaults (5 corrections, ``factr = 1e7``, ``pgtol = 0``, 100 iterations). Such a gene has a group
of zeros, so its posterior is flat far out and the optimiser stops where its rule says: the same rule is what
makes the same answer. Here scipy's L-BFGS-B (the same algorithm) runs with that gradient and those settings.

That holds only where the posterior is flat far out. Where the gene's counts above zero pin every coefficient
(the rows of the design with a count have full rank: no group of zeros), the likelihood has a finite maximum,
but IRLS can still diverge from its start: one zero among counts in the tens of thousands makes a working
response in the hundreds. There R's optimiser usually reaches the maximum, yet two L-BFGS-B implementations
follow different paths from such a start, and scipy's stopped far from it, reporting success (a Wald stat of
-19.6 where R and pydeseq2 give 0.29; ``benchmarks/engine_agreement.py``). :func:`newton_fit` finds that
maximum instead (:func:`has_finite_maximum` decides), which does not depend on the path. Where a coefficient
does run off (a patient whose samples are all zero), the others still have limits, which R's optimiser
approaches; where scipy's stops short of them, a Newton search from its end point climbs on: its end is kept when
it is clearly higher (:data:`CLEARLY_HIGHER`), so that where the two differ only in how far out the runaway
coefficient stopped, R's rule stands.
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
#: Log posterior gain above which a Newton search's end replaces the optimiser's on a gene without a finite
#: maximum: far above what the optimiser's stopping rule leaves on a flat tail (relative 2e-9 per iteration).
CLEARLY_HIGHER = 1e-3


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


def has_finite_maximum(counts: np.ndarray, design: np.ndarray) -> bool:
    """Whether a gene's log-likelihood has a finite maximum whatever its zeros: the design's rows with a count
    above zero have full column rank, so no direction of the coefficients leaves every such mean unchanged
    (with a rank deficit, a direction that only lowers zero counts' means can raise the likelihood for ever)."""
    rows = design[np.asarray(counts) > 0]
    return bool(len(rows) and np.linalg.matrix_rank(rows) == design.shape[1])


def newton_fit(counts: np.ndarray, size_factors: np.ndarray, design: np.ndarray, dispersion: float,
               start: np.ndarray, ridge: float, tol: float = 1e-10, maxiter: int = 200
               ) -> tuple[np.ndarray, bool, float]:
    """One gene's maximum of ``sum log NB(k | nf x exp(x beta), 1 / alpha) - ridge / 2 x |beta|^2`` (natural-log
    coefficients; DESeq2's ridge on them), by Newton's method with a backtracking (Armijo) line search.

    The objective is concave (the observed information ``X^T W X + ridge``, ``W = mu (1 + alpha k) / (1 + alpha
    mu)^2``, is positive definite for any counts), so each Newton step goes uphill and with the line search it
    converges from any start, where IRLS (Fisher scoring without a line search) may diverge. Stops when the
    predicted gain of the next step (half the Newton decrement) is below ``tol`` in log-likelihood units, or when
    the line search cannot gain while that prediction is below ``1e-6`` (the objective's rounding at counts in the
    tens of thousands); ``converged`` is False otherwise after ``maxiter`` steps. Returns the coefficients,
    ``converged`` and the gain in the objective over ``start``.
    """
    counts = np.asarray(counts, dtype=float)
    size = 1.0 / dispersion
    log_sf = np.log(size_factors)

    def objective(beta: np.ndarray) -> float:
        """The penalised log-likelihood less its terms without ``beta``."""
        eta = design @ beta + log_sf
        return float(np.sum(counts * eta - (counts + size) * np.logaddexp(np.log(size), eta))
                     - ridge / 2.0 * beta @ beta)

    beta = np.asarray(start, dtype=float).copy()
    value = first = objective(beta)
    for _ in range(maxiter):
        mu = np.exp(design @ beta + log_sf)
        grad = design.T @ ((counts - mu) / (1.0 + dispersion * mu)) - ridge * beta
        # observed information: -d2 log NB / d eta2 = mu (1 + alpha k) / (1 + alpha mu)^2, positive for any k
        info = (design.T * (mu * (1.0 + dispersion * counts) / (1.0 + dispersion * mu) ** 2)) @ design \
            + ridge * np.eye(len(beta))
        step = np.linalg.solve(info, grad)
        decrement = float(grad @ step)
        if decrement / 2.0 <= tol:
            return beta, True, value - first
        t = 1.0
        while t > 1e-12:
            trial = beta + t * step
            trial_value = objective(trial)
            if np.isfinite(trial_value) and trial_value >= value + 1e-4 * t * decrement:
                break
            t /= 2.0
        else:
            return beta, decrement / 2.0 <= 1e-6, value - first
        beta, value = trial, trial_value
    return beta, False, value - first


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

"""The dispersion trend as R DESeq2 (1.38.3, ``estimateDispersionsFit``) fits it.

pydeseq2 0.5.4 and DESeq2 both fit ``dispersion = asymptDisp + extraPois / mean`` by a gamma-family GLM with an
identity link, refitted after leaving out genes far from the curve, but they differ in what they fit:

* **genes:** DESeq2 fits the genes whose gene-wise dispersion is above ``100 x minDisp``; pydeseq2 every gene
  that is not all zero (genes at the lower bound pull its curve down);
* **refits:** DESeq2 starts from ``(0.1, 1)``, and at each pass chooses the genes within ``1e-4 - 15`` times the
  current curve among all of them; pydeseq2 starts with every gene and drops genes for good;
* **the GLM:** DESeq2 uses R's ``glm`` (IRLS from the current coefficients, deviance criterion ``1e-8``);
  pydeseq2 minimises the same likelihood by L-BFGS-B from ``(1, 1)`` to a looser tolerance;
* **failure:** where a coefficient is not positive or the passes do not settle within 10, DESeq2 fits a local
  regression instead; pydeseq2 the mean.

:func:`parametric_trend` repeats DESeq2's fit (``parametricDispersionFit``), the GLM as R's ``glm.fit`` computes it.
"""

from __future__ import annotations

import numpy as np

#: Gene-wise dispersions above this multiple of the least dispersion enter the trend fit (DESeq2).
MIN_DISP_FACTOR = 100.0
#: R's ``glm.control()``: deviance tolerance and iterations.
GLM_EPSILON = 1e-8
GLM_MAXIT = 25
#: Passes of the parametric fit before DESeq2 gives up.
MAX_PASSES = 10


def _gamma_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """R's ``Gamma()$dev.resids`` summed (unit weights)."""
    ratio = np.where(y == 0, 1.0, y / mu)
    return float(np.sum(-2.0 * (np.log(ratio) - (y - mu) / mu)))


def gamma_identity_glm(x: np.ndarray, y: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, bool]:
    """R's ``glm.fit(x, y, family = Gamma(link = "identity"), start = start)``: coefficients and convergence.

    IRLS with the working response ``y`` and weights ``1 / mu^2`` (the identity link), step-halving back towards
    the previous coefficients while a mean is not positive, stopping when the deviance changes by less than
    ``1e-8`` relative (``|dev - devold| / (|dev| + 0.1)``) or after 25 iterations.

    Raises
    ------
    FloatingPointError
        When the start gives a mean that is not positive (R: "cannot find valid starting values").
    """
    beta = np.asarray(start, dtype=float).copy()
    mu = x @ beta
    if not (np.isfinite(mu).all() and (mu > 0).all()):
        raise FloatingPointError("cannot find valid starting values")
    dev_old = _gamma_deviance(y, mu)
    previous = beta.copy()
    for _ in range(GLM_MAXIT):
        w = 1.0 / mu
        beta = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)[0]
        mu = x @ beta
        dev = _gamma_deviance(y, mu) if (mu > 0).all() else np.inf
        halvings = 0
        while not (np.isfinite(mu).all() and (mu > 0).all()) or not np.isfinite(dev):
            halvings += 1
            if halvings > GLM_MAXIT:
                raise FloatingPointError("inner loop: cannot correct step size")
            beta = (beta + previous) / 2.0
            mu = x @ beta
            dev = _gamma_deviance(y, mu) if (mu > 0).all() else np.inf
        if abs(dev - dev_old) / (abs(dev) + 0.1) < GLM_EPSILON:
            return beta, True
        dev_old = dev
        previous = beta.copy()
    return beta, False


def parametric_trend(means: np.ndarray, dispersions: np.ndarray) -> np.ndarray | None:
    """DESeq2's ``parametricDispersionFit``: ``(asymptDisp, extraPois)``, or None where DESeq2's fit fails.

    Parameters
    ----------
    means : numpy.ndarray
        Mean normalised counts of the genes used for the fit (:func:`trend_genes`).
    dispersions : numpy.ndarray
        Their gene-wise dispersions.

    Returns
    -------
    numpy.ndarray or None
        The two coefficients, or None when a coefficient is not positive, the GLM cannot start, or the passes
        do not settle (DESeq2 then fits a local regression).
    """
    means = np.asarray(means, dtype=float)
    dispersions = np.asarray(dispersions, dtype=float)
    coefs = np.array([0.1, 1.0])
    for _ in range(MAX_PASSES + 1):
        residuals = dispersions / (coefs[0] + coefs[1] / means)
        good = (residuals > 1e-4) & (residuals < 15)
        x = np.column_stack([np.ones(int(good.sum())), 1.0 / means[good]])
        try:
            new, converged = gamma_identity_glm(x, dispersions[good], coefs)
        except (FloatingPointError, np.linalg.LinAlgError):
            return None
        old, coefs = coefs, new
        if not (coefs > 0).all():
            return None
        if np.sum(np.log(coefs / old) ** 2) < 1e-6 and converged:
            return coefs
    return None


def trend_genes(genewise: np.ndarray, min_disp: float) -> np.ndarray:
    """The genes DESeq2 fits its trend on: gene-wise dispersion above ``100 x min_disp`` (a boolean mask)."""
    return np.asarray(genewise, dtype=float) > MIN_DISP_FACTOR * min_disp

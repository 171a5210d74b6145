"""Self-contained gene-set test by rotation: limma's ``fry`` (Wu et al. 2010, roast; Giner & Smyth 2016, fry).

A gene set is tested as a whole: is the mean of its genes' standardised contrast effects different from zero,
measured against the same mean taken over the residual space of the linear model? Because the set mean is formed
per residual dimension before it is squared, correlation between the set's genes (a stroma or immune programme
that varies between patients) widens the null, and the test keeps its error rate at the sample level. ``fry`` is
roast with infinitely many rotations, in closed form.

This is a port of limma 3.54 (``fry.default`` with ``standardize="posterior.sd"``, ``.lmEffects`` without
weights or blocks, ``.fryEffects``' directional p-value, ``fitFDist`` without covariate), checked against R in
``tests/engines/test_rotation.py`` (reference made by ``tests/data/rotation/make_reference.R``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special

from target_rationale.core.stats import chi2_ppf, student_sf

#: Gauss-Legendre nodes and weights on (0, 1) (statmod's ``gauss.quad.prob(128, "uniform")``).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(128)
_NODES, _WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2


def trigamma_inverse(x: float) -> float:
    """The y with ``trigamma(y) == x`` (limma's Newton iteration from ``0.5 + 1 / x``)."""
    if x > 1e7:
        return 1 / np.sqrt(x)
    if x < 1e-6:
        return 1 / x
    y = 0.5 + 1 / x
    for _ in range(50):
        tri = special.polygamma(1, y)
        step = tri * (1 - tri / x) / special.polygamma(2, y)
        y += step
        if -step / y < 1e-8:
            break
    return float(y)


def fit_f_dist(variances: np.ndarray, df1: float) -> tuple[float, float]:
    """Prior scale and degrees of freedom of gene variances (limma's ``fitFDist`` by moments, no covariate).

    Returns
    -------
    (float, float)
        ``(scale, df2)``; ``df2`` is ``inf`` when the variances vary no more than sampling explains.
    """
    x = np.asarray(variances, dtype=float)
    x = x[np.isfinite(x) & (x > -1e-15)]
    if len(x) == 1:
        return float(x[0]), 0.0
    x = np.maximum(x, 0)
    middle = np.median(x)
    x = np.maximum(x, 1e-5 * (middle if middle > 0 else 1.0))
    e = np.log(x) - special.digamma(df1 / 2) + np.log(df1 / 2)
    e_mean = e.mean()
    e_var = ((e - e_mean) ** 2).sum() / (len(x) - 1) - special.polygamma(1, df1 / 2)
    if e_var > 0:
        df2 = 2 * trigamma_inverse(e_var)
        return float(np.exp(e_mean + special.digamma(df2 / 2) - np.log(df2 / 2))), float(df2)
    return float(x.mean()), float("inf")


def squeeze_var(variances: np.ndarray, df: float, scale: float, df_prior: float) -> np.ndarray:
    """Posterior variances (limma's ``.squeezeVar``): ``(df var + df_prior scale) / (df + df_prior)``, the prior
    ``scale`` itself when ``df_prior`` is infinite."""
    variances = np.asarray(variances, dtype=float)
    if np.isinf(df_prior):
        return np.full_like(variances, scale)
    return (df * variances + df_prior * scale) / (df + df_prior)


def contrast_design(design: np.ndarray, contrast: Sequence[float]) -> np.ndarray:
    """The design reparametrised so that its last coefficient is ``contrast`` (limma's ``contrastAsCoef``).

    With ``Q R`` the QR decomposition of the contrast (a column), the new design is ``X Q`` with its first column
    divided by ``R[0, 0]`` and moved last: the fitted values and the residual space are unchanged.
    """
    c = np.asarray(contrast, dtype=float)[:, None]
    if not c.any():
        raise ValueError("contrast is all zero")
    q, r = np.linalg.qr(c, mode="complete")
    transformed = (q.T @ np.asarray(design, dtype=float).T).T
    transformed[:, 0] /= r[0, 0]
    return np.column_stack([transformed[:, 1:], transformed[:, 0]])


def lm_effects(y: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Genes x (1 + residual df) effects of the design's last coefficient (limma's ``.lmEffects``).

    Column 0 is the last coefficient's effect, signed like the coefficient (its estimate over its unscaled
    standard error); the others are the residual effects, an orthonormal basis of the residual space applied to
    each gene (numpy's Householder QR, the same reflections as R's ``qr``).
    """
    n, p = design.shape
    if n <= p:
        raise ValueError(f"no residual degrees of freedom ({n} samples, {p} coefficients)")
    q, r = np.linalg.qr(design, mode="complete")
    if np.linalg.matrix_rank(design) < p:
        raise ValueError("design must be of full column rank")
    effects = (q.T @ y.T).T[:, p - 1:]
    effects[:, 0] *= np.sign(r[p - 1, p - 1])
    return effects


def residual_variances(y: np.ndarray, design: np.ndarray, block: int = 4096,
                       samples: Sequence[int] | None = None) -> np.ndarray:
    """Each gene's residual variance (residual sum of squares over ``n - p``) under the design: the mean of
    its squared residual effects (:func:`lm_effects`), computed from the design's column space alone
    (``O(genes x n x p)`` instead of the ``O(genes x n^2)`` of every gene's residual effects), ``block`` genes
    at a time. ``samples``: the columns of ``y`` (genes x samples) the design's rows are, in order and repeats
    allowed (by default all of them), read a block at a time instead of copying the whole matrix."""
    n, p = design.shape
    q = np.linalg.qr(design, mode="reduced")[0]
    out = np.empty(len(y))
    for start in range(0, len(y), block):
        if samples is None:
            part = y[start:start + block]
            residual = part - (part @ q) @ q.T
            out[start:start + block] = np.einsum("ij,ij->i", residual, residual) / (n - p)
        else:  # samples x genes, gathered a row at a time (``y.T`` is a samples-major matrix's own layout)
            part = y.T[samples, start:start + block]
            residual = part - q @ (q.T @ part)
            out[start:start + block] = np.einsum("ij,ij->j", residual, residual) / (n - p)
    return out


def posterior_sd(effects: np.ndarray, prior: tuple[float, float] | None = None) -> np.ndarray:
    """Each gene's posterior standard deviation (limma's ``standardize="posterior.sd"``) from its effects
    (:func:`lm_effects`).

    The robust per-gene variance leaves out each gene's largest squared effect (its expectation from the order
    statistic of ``d + 1`` chi-square(1) values); it is squeezed towards the prior fitted to the residual
    variances, with ``0.92 d`` degrees of freedom. ``prior``: the prior's ``(scale, df)`` when fitted to more
    genes than ``effects`` holds (:func:`fit_f_dist` of :func:`residual_variances`), else fitted to these.
    """
    d = effects.shape[1] - 1
    expected_max = float(np.sum((d + 1) * _NODES ** d * chi2_ppf(_NODES, 1) * _WEIGHTS))
    squares = effects ** 2
    robust = (squares.sum(axis=1) - squares.max(axis=1)) / (d + 1 - expected_max)
    scale, df_prior = fit_f_dist(squares[:, 1:].mean(axis=1), d) if prior is None else prior
    return np.sqrt(squeeze_var(robust, 0.92 * d, scale, df_prior))


def fry(y: np.ndarray, design: np.ndarray, sets: Mapping[str, Sequence[int]],
        contrast: Sequence[float] | None = None, extra_variance: np.ndarray | None = None,
        variances: np.ndarray | None = None, extra_draws: np.ndarray | None = None) -> pd.DataFrame:
    """Directional fry test of each gene set for one contrast.

    Parameters
    ----------
    y : numpy.ndarray
        Genes x samples, on a log scale (e.g. variance-stabilised counts); every gene of the matrix informs the
        variance prior, not only the sets'.
    design : numpy.ndarray
        Samples x coefficients, full column rank.
    sets : mapping of str to sequence of int
        Row indices of each set's genes in ``y`` (a set may have one gene).
    contrast : sequence of float, optional
        Contrast over the design's columns; by default its last coefficient.
    extra_variance : numpy.ndarray, optional
        Per gene, a variance (in ``y``'s units squared) added to the estimate of the contrast and shared by all
        samples, so that the residuals cannot show it (e.g. the error of a host-tissue level taken out of the
        counts; not in limma). Each gene's share, on the standardised scale, is added to the set's residual mean
        square, assuming independent errors across genes; the degrees of freedom stay (conservative: a fixed
        term makes the denominator less variable).
    variances : numpy.ndarray, optional
        Every gene's residual variance under the design (:func:`residual_variances` of the whole matrix), the
        input of the variance prior; with it, ``y`` need hold only the sets' genes (and ``extra_variance`` is
        indexed like ``y``). By default computed from ``y``.
    extra_draws : numpy.ndarray, optional
        Genes x draws (rows like ``y``'s): draws of an error of the contrast's estimate that the genes share (in
        ``y``'s units; not in limma), e.g. a host cell type's share misjudged for every gene it makes. The mean
        square over the draws of the set's mean error, on the standardised scale, is added to the set's residual
        mean square as well (the draws are not centred: their mean is an error too).

    Returns
    -------
    pandas.DataFrame
        Indexed by set: ``n_genes``, ``direction`` (``up`` / ``down``), ``t`` (set t statistic) and ``p_value``
        (two-sided, t distribution on the residual degrees of freedom); NaN for an empty set.
    """
    y = np.asarray(y, dtype=float)
    design = np.asarray(design, dtype=float)
    if not np.isfinite(y).all():
        raise ValueError("y must be finite")
    if contrast is not None:
        design = contrast_design(design, contrast)
    # every gene informs the variance prior, through its residual variance; only the sets' genes need their
    # effects (their standardisation and the set means)
    members = sorted({int(i) for index in sets.values() for i in index})
    at = {gene: k for k, gene in enumerate(members)}
    raw = lm_effects(y[members], design)
    d = raw.shape[1] - 1
    sd = posterior_sd(raw, fit_f_dist(residual_variances(y, design) if variances is None else variances, d))
    effects = raw / sd[:, None]
    coefficient_scale = abs(np.linalg.qr(design, mode="r")[-1, -1])  # effect = coefficient x this
    added = np.zeros(len(members)) if extra_variance is None else \
        np.asarray(extra_variance, dtype=float)[members] * coefficient_scale ** 2 / sd ** 2
    shared = None if extra_draws is None else \
        np.asarray(extra_draws, dtype=float)[members] * coefficient_scale / sd[:, None]
    rows = []
    for name, index in sets.items():
        index = [at[int(i)] for i in index]
        if not index:
            rows.append((name, 0, "", np.nan, np.nan))
            continue
        mean = effects[index].mean(axis=0)
        spread = np.mean(mean[1:] ** 2) + added[index].sum() / len(index) ** 2
        if shared is not None:
            spread += float(np.mean(shared[index].mean(axis=0) ** 2))
        t = float(mean[0] / np.sqrt(spread))
        rows.append((name, len(index), "up" if t >= 0 else "down", t, float(2 * student_sf(abs(t), d))))
    return pd.DataFrame(rows, columns=["set", "n_genes", "direction", "t", "p_value"]).set_index("set")

"""Competitive gene-set test with inter-gene correlation: limma's ``camera`` (Wu & Smyth 2012).

Each gene gets a moderated t statistic for the contrast (empirical-Bayes variances), turned into a z-score; a set's
mean z is compared with the other genes' in a two-sample t test whose variance is inflated by ``1 + (m - 1) rho``,
with ``rho`` the set's mean inter-gene correlation estimated from the residuals of the linear model (limma's
``inter.gene.cor = NA``) or given. Correlated genes move together, so a set of them carries less information than
its size suggests: the inflation keeps the error rate at the sample level, which a gene-permutation null does not.

Port of limma 3.54 ``camera.default`` (no weights, no trend, parametric statistic), checked against R in
``tests/engines/test_camera.py`` (reference from ``tests/data/rotation/make_reference.R``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from target_rationale.core.stats import student_cdf, student_sf
from target_rationale.engines.rotation import contrast_design, fit_f_dist, lm_effects, squeeze_var


def zscore_t_hill(t: np.ndarray, df: float) -> np.ndarray:
    """z-scores equivalent to t statistics on ``df`` degrees of freedom (Hill's 1970 approximation, as limma)."""
    a = df - 0.5
    b = 48 * a * a
    z = a * np.log1p(t / df * t)
    z = (((((-0.4 * z - 3.3) * z - 24) * z - 85.5) / (0.8 * z * z + 100 + b) + z + 3) / b + 1) * np.sqrt(z)
    return z * np.sign(t)


def camera(y: np.ndarray, design: np.ndarray, sets: Mapping[str, Sequence[int]],
           contrast: Sequence[float] | None = None, inter_gene_cor: float | None = None) -> pd.DataFrame:
    """camera of each gene set for one contrast.

    Parameters
    ----------
    y : numpy.ndarray
        Genes x samples, log scale (e.g. variance-stabilised counts); at least 3 genes.
    design : numpy.ndarray
        Samples x coefficients, full column rank.
    sets : mapping of str to sequence of int
        Row indices of each set's genes in ``y``.
    contrast : sequence of float, optional
        Contrast over the design's columns; by default its last coefficient.
    inter_gene_cor : float, optional
        A fixed inter-gene correlation (limma's default 0.01); None estimates it per set from the residuals,
        with the test on ``min(residual df, G - 2)`` degrees of freedom.

    Returns
    -------
    pandas.DataFrame
        Indexed by set: ``n_genes``, ``correlation`` (the estimate; the fixed value when given), ``direction``
        (``up`` / ``down``), ``t`` (the two-sample statistic) and ``p_value`` (two-sided).
    """
    y = np.asarray(y, dtype=float)
    design = np.asarray(design, dtype=float)
    if contrast is not None:
        design = contrast_design(design, contrast)
    effects = lm_effects(y, design)
    n_genes, df_residual = y.shape[0], effects.shape[1] - 1
    unscaled_t, residual = effects[:, 0], effects[:, 1:]
    sigma2 = (residual ** 2).mean(axis=1)
    standardised = residual / np.sqrt(np.maximum(sigma2, 1e-8))[:, None]
    scale, df_prior = fit_f_dist(sigma2, df_residual)
    moderated = unscaled_t / np.sqrt(squeeze_var(sigma2, df_residual, scale, df_prior))
    statistic = zscore_t_hill(moderated, min(df_residual + df_prior, n_genes * df_residual, 1e100))
    mean_all, var_all = statistic.mean(), statistic.var(ddof=1)
    df_camera = n_genes - 2 if inter_gene_cor is not None else min(df_residual, n_genes - 2)
    rows = []
    for name, index in sets.items():
        index = list(index)
        m, m2 = len(index), n_genes - len(index)
        if inter_gene_cor is not None:
            correlation, vif = inter_gene_cor, 1 + (m - 1) * inter_gene_cor
        elif m > 1:
            vif = m * np.mean(standardised[index].mean(axis=0) ** 2)
            correlation = (vif - 1) / (m - 1)
        else:
            vif, correlation = 1.0, np.nan
        vif = max(1.0, vif)
        delta = n_genes / m2 * (statistic[index].mean() - mean_all)
        pooled = ((n_genes - 1) * var_all - delta ** 2 * m * m2 / n_genes) / (n_genes - 2)
        t = delta / np.sqrt(pooled * (vif / m + 1 / m2))
        down, up = student_cdf(t, df_camera), student_sf(t, df_camera)
        rows.append((name, m, correlation, "down" if down < up else "up", t, min(1.0, 2 * min(down, up))))
    return pd.DataFrame(rows, columns=["set", "n_genes", "correlation", "direction", "t", "p_value"]).set_index("set")

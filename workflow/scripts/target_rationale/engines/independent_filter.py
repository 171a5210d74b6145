"""Independent filtering of p-values as R DESeq2 (1.38.3, ``results``) does it.

DESeq2 keeps the genes whose mean normalised count is at least a quantile ``theta`` of all the genes' means,
for 50 values of ``theta`` from the share of all-zero genes to 0.95, adjusts the p-values of each subset
(Benjamini-Hochberg), counts the rejections at ``alpha``, smooths those counts by ``lowess(f = 1/5)`` and takes
the first ``theta`` whose count is above the smooth's maximum less the root mean square of the residuals.
pydeseq2 0.5.4 does the same with its own ``lowess``, which takes one neighbour more than R's and no
interpolation step, so near the threshold it picks another ``theta`` (and masks another set of genes); here the
smooth is statsmodels' ``lowess`` with R's ``delta`` (the two agree to 1e-12), the quantiles are R's type 7
and the adjustment is R's ``p.adjust``.
"""

from __future__ import annotations

import numpy as np
from pydeseq2.ds import DeseqStats

from target_rationale.engines.glm_optim import LFC_RIDGE

#: Values of ``theta`` DESeq2 tries, and the upper quantile.
THETAS = 50
UPPER_QUANTILE = 0.95
#: ``lowess`` span DESeq2 uses.
LOWESS_SPAN = 1 / 5


def r_quantile(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's ``quantile(values, probs)`` (type 7), with R's arithmetic."""
    x = np.sort(np.asarray(values, dtype=float))
    index = 1 + (len(x) - 1) * np.asarray(probs, dtype=float)
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    qs = x[lo - 1]
    h = index - lo
    move = (index > lo) & (x[hi - 1] != qs)
    qs[move] = (1 - h[move]) * qs[move] + h[move] * x[hi - 1][move]
    return qs


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """R's ``p.adjust(p, "BH")``: NaN stays NaN and does not count."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    keep = ~np.isnan(p)
    values = p[keep]
    n = len(values)
    if n:
        order = np.argsort(-values, kind="stable")
        ranks = np.arange(n, 0, -1)
        adjusted = np.minimum(1.0, np.minimum.accumulate(n / ranks * values[order]))
        result = np.empty(n)
        result[order] = adjusted
        out[keep] = result
    return out


def filtered_padj(base_mean: np.ndarray, pvalues: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """DESeq2's independently filtered adjusted p-values (see the module docstring).

    Parameters
    ----------
    base_mean : numpy.ndarray
        The filter: each gene's mean normalised count.
    pvalues : numpy.ndarray
        Each gene's p-value (NaN where not tested).
    alpha : float
        The FDR the rejections are counted at.

    Returns
    -------
    tuple
        The adjusted p-values (NaN for genes filtered out) and the ``theta`` chosen.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess  # statsmodels: only the jobs that filter

    base_mean = np.asarray(base_mean, dtype=float)
    pvalues = np.asarray(pvalues, dtype=float)
    lower = float(np.mean(base_mean == 0))
    theta = np.linspace(lower, UPPER_QUANTILE if lower < UPPER_QUANTILE else 1.0, THETAS)
    cutoffs = r_quantile(base_mean, theta)
    adjusted = np.full((len(base_mean), len(theta)), np.nan)
    for i, cutoff in enumerate(cutoffs):
        use = base_mean >= cutoff
        if use.any():
            adjusted[use, i] = bh_adjust(pvalues[use])
    rejections = np.sum(adjusted < alpha, axis=0)
    smooth = lowess(rejections.astype(float), theta, frac=LOWESS_SPAN, it=3, delta=0.01 * (theta[-1] - theta[0]),
                    return_sorted=False)
    if rejections.max() <= 10:
        j = 0
    else:
        positive = rejections > 0
        residual = rejections[positive] - smooth[positive] if positive.any() else np.zeros(1)
        threshold = smooth.max() - np.sqrt(np.mean(residual ** 2))
        above = np.flatnonzero(rejections > threshold)
        j = int(above[0]) if len(above) else 0
    return adjusted[:, j], float(theta[j])


class FastDeseqStats(DeseqStats):
    """pydeseq2's ``DeseqStats`` with DESeq2's independent filtering (:func:`filtered_padj`) and, unless given a
    prior, DESeq2's ridge in the Wald test (``lambda = 1e-6`` on log2 fold changes, as in the fit)."""

    def __init__(self, dds, *args, **kwargs) -> None:
        super().__init__(dds, *args, **kwargs)
        if self.prior_LFC_var is None:
            self.prior_LFC_var = np.full(self.design_matrix.shape[1], np.log(2) / np.sqrt(LFC_RIDGE))

    def _independent_filtering(self) -> None:
        if not hasattr(self, "p_values"):
            self.run_wald_test()
        padj, _ = filtered_padj(self.base_mean.to_numpy(float), self.p_values.to_numpy(float), self.alpha)
        self.padj = type(self.p_values)(padj, index=self.p_values.index)

"""The prior variance of log dispersions, as R DESeq2 (1.38.3, ``estimateDispersionsPriorVar``) estimates it.

With ``df = samples - coefficients`` residual degrees of freedom, DESeq2 takes the log residuals of the gene-wise
dispersions around the trend (genes with a dispersion of at least ``100 x minDisp``) and

* when ``df > 3``: their squared MAD less the sampling variance of a log chi-square, ``trigamma(df / 2)``, at
  least 0.25 (pydeseq2 does the same in every case);
* when ``1 <= df <= 3``, where the log residuals are too skewed for the MAD: the variance ``x`` on a grid of 200
  values in [0, 8] whose simulated distribution ``log(chi2_df / df) + N(0, x)`` is nearest (Kullback-Leibler, on
  histograms with bins of 0.5 over (-10, 10)) to the residuals' histogram; the 200 divergences are smoothed by a
  loess (span 0.2) and its minimum on a grid of 1,000 values is taken, at least 0.25.

DESeq2 seeds the simulation itself (``set.seed(2)``, then the 200 draws in turn), so its draws depend only on
``df``: ``resources/deseq2/prior_var_simulation.tsv.gz`` holds them as bin counts, made by the R script beside it,
and this module repeats the rest exactly (R's ``hist`` binning with its fuzz, the divergence, ``loess`` through
scikit-misc, which wraps the same netlib ``dloess`` code R's ``loess`` uses).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import polygamma

#: DESeq2's simulated histograms (R-made; see the module docstring).
SIMULATION = Path(__file__).resolve().parents[4] / "resources" / "deseq2" / "prior_var_simulation.tsv.gz"
#: The histograms' breaks, ``-20:20/2`` in R.
BREAKS = np.arange(-20, 21) / 2.0
#: The grid of prior variances the simulation tried, ``seq(0, 8, length = 200)``.
GRID = np.linspace(0.0, 8.0, 200)
#: The grid the loess is evaluated on, ``seq(0, 8, length = 1000)``.
FINE_GRID = np.linspace(0.0, 8.0, 1000)
#: The least prior variance DESeq2 allows.
MIN_PRIOR_VARIANCE = 0.25
#: Residual degrees of freedom up to which DESeq2 simulates.
MAX_SIMULATED_DF = 3


def histogram_counts(values: np.ndarray) -> np.ndarray:
    """R's ``hist(values, breaks = BREAKS)$counts``: right-closed bins ``(a, b]`` (the first closed), each break
    moved by R's fuzz of ``1e-7`` of a bin width (down for the first, up for the others)."""
    fuzz = 1e-7 * 0.5
    edges = BREAKS + np.r_[-fuzz, np.full(len(BREAKS) - 1, fuzz)]
    values = np.asarray(values, dtype=float)
    inside = (values >= edges[0]) & (values <= edges[-1])
    index = np.searchsorted(edges, values[inside], side="left") - 1
    index = np.clip(index, 0, len(BREAKS) - 2)
    return np.bincount(index, minlength=len(BREAKS) - 1)


@lru_cache(maxsize=4)
def simulated_densities(df: int, path: str = str(SIMULATION)) -> np.ndarray:
    """DESeq2's simulated histogram densities for ``df`` residual degrees of freedom: ``len(GRID)`` x 40."""
    table = pd.read_csv(path, sep="\t")
    rows = table[table["df"] == df].sort_values("grid_index")
    if len(rows) != len(GRID):
        raise ValueError(f"{path}: expected {len(GRID)} rows for df {df}, found {len(rows)}; regenerate it with "
                         "Rscript resources/deseq2/make_prior_var_simulation.R")
    counts = rows[[f"bin{i:02d}" for i in range(len(BREAKS) - 1)]].to_numpy(float)
    return counts / (rows["kept"].to_numpy(float)[:, None] * 0.5)


def kl_divergences(residuals: np.ndarray, df: int) -> np.ndarray:
    """DESeq2's divergence of each simulated histogram from the residuals' histogram, one per :data:`GRID` value."""
    residuals = np.asarray(residuals, dtype=float)
    observed = residuals[(residuals > BREAKS[0]) & (residuals < BREAKS[-1])]
    density = histogram_counts(observed) / (len(observed) * 0.5)
    out = np.empty(len(GRID))
    for i, simulated in enumerate(simulated_densities(df)):
        z = np.concatenate([density, simulated])
        small = z[z > 0].min()
        out[i] = math.fsum(density * (np.log(density + small) - np.log(simulated + small)))
    return out


def simulated_prior_variance(residuals: np.ndarray, df: int) -> float:
    """The prior variance DESeq2 estimates by simulation at ``1 <= df <= 3`` (see the module docstring).

    Parameters
    ----------
    residuals : numpy.ndarray
        Log gene-wise dispersions less the log trend, of the genes with a gene-wise dispersion of at least
        ``100 x`` the least dispersion.
    df : int
        Residual degrees of freedom (1, 2 or 3).

    Returns
    -------
    float
        The prior variance of log dispersions.
    """
    from skmisc.loess import loess  # scikit-misc: only for fits with 1-3 residual degrees of freedom

    fit = loess(GRID, kl_divergences(residuals, df), span=0.2, degree=2, family="gaussian", surface="interpolate")
    fit.fit()
    fitted = np.asarray(fit.predict(FINE_GRID).values)
    return max(float(FINE_GRID[int(np.argmin(fitted))]), MIN_PRIOR_VARIANCE)


def prior_variance(residuals: np.ndarray, df: int, mad_squared: float) -> float:
    """DESeq2's prior variance of log dispersions for ``df`` residual degrees of freedom.

    ``mad_squared`` is the squared (normal-consistent) MAD of ``residuals``; at ``df > 3`` the result is
    ``max(mad_squared - trigamma(df / 2), 0.25)``, at ``df`` 1-3 :func:`simulated_prior_variance`, at ``df = 0``
    ``mad_squared``.
    """
    if 1 <= df <= MAX_SIMULATED_DF:
        return simulated_prior_variance(residuals, df)
    if df > 0:
        return max(mad_squared - float(polygamma(1, df / 2)), MIN_PRIOR_VARIANCE)
    return mad_squared

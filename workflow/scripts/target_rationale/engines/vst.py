"""R DESeq2's blind variance-stabilising transform (1.38.3, ``vst(blind = TRUE)``) on the vectorised engine.

DESeq2's ``vst`` takes the size factors of all genes, fits the dispersion trend on 1,000 genes
(``nsub``) spread over the expression range (the genes with a mean normalised count above 5, ordered by it, the
ones at ``round(seq(1, n, length = 1000))``), with ``~ 1``: gene-wise dispersions, then the parametric trend, or
the local (locfit) trend where the parametric fit fails. Every gene is then transformed with that trend
(``getVarianceStabilizedData``): in closed form for a parametric trend; for a local one by integrating
``1 / sqrt(variance)`` numerically on a grid, interpolating the integral with R's ``splinefun`` ("fmm", here
:func:`fmm_spline`) and scaling it to ``log2`` between the 95% and 99.9% quantiles of the genes' means.

Where fewer than ``nsub`` genes have a mean above 5, DESeq2's ``vst`` stops and recommends
``varianceStabilizingTransformation``; :func:`blind_vst` does what that does with ``blind = TRUE``: the trend
fitted on every gene. The gene-wise dispersions and the trends are those of :class:`.nbinom.FastDeseqDataSet`
(the vectorised engine, ``diffexp.model.dataset_class("vectorized")``). Checked against R:
``tests/engines/test_vst.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from target_rationale.engines.dispersion_trend import trend_genes
from target_rationale.engines.independent_filter import r_quantile
from target_rationale.engines.local_trend import fit_local_trend
from target_rationale.engines.nbinom import FastDeseqDataSet, VectorizedInference

#: Genes the trend is fitted on (DESeq2's ``nsub``), and the least mean normalised count they need.
NSUB = 1000
MIN_MEAN = 5.0
#: Points of the local branch's integration grid (``asinh``-spaced, the first, zero, dropped).
GRID = 1000
#: Quantiles of the genes' means that the local branch maps to themselves on the ``log2`` scale.
LOW_QUANTILE, HIGH_QUANTILE = 0.95, 0.999


@dataclass(frozen=True)
class FmmSpline:
    """A cubic spline as R keeps it: at knot ``x[i]`` the value ``y[i]`` and coefficients ``b, c, d`` of
    ``y + b dx + c dx^2 + d dx^3``; beyond the knots the end cubics go on (R's ``spline_eval``)."""

    x: np.ndarray
    y: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray

    def __call__(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        i = np.clip(np.searchsorted(self.x, u, side="right") - 1, 0, len(self.x) - 1)
        dx = u - self.x[i]
        return self.y[i] + dx * (self.b[i] + dx * (self.c[i] + dx * self.d[i]))


def fmm_spline(x: np.ndarray, y: np.ndarray) -> FmmSpline:
    """R's ``splinefun(x, y)`` (method "fmm", Forsythe, Malcolm and Moler; ``fmm_spline`` in R's ``splines.c``).

    The interpolating cubic spline whose third derivative at each end is that of the cubic through the first
    (last) four points; with three points the end condition is zero, with two the line. As R, the points are
    sorted and tied ``x`` replaced by one with the mean ``y``; the arithmetic is R's, step by step.

    Parameters
    ----------
    x, y : numpy.ndarray
        The points (at least two distinct ``x``).

    Returns
    -------
    FmmSpline
        Callable on an array of ``x`` values.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    order = np.argsort(x[keep], kind="stable")
    x, y = x[keep][order], y[keep][order]
    x_unique, first = np.unique(x, return_index=True)
    if len(x_unique) < len(x):  # R's regularize.values(ties = mean)
        x, y = x_unique, np.add.reduceat(y, first) / np.diff(np.r_[first, len(y)])
    n = len(x)
    if n < 2:
        raise ValueError("fmm_spline needs at least two distinct x values")
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n == 2:
        b[:] = (y[1] - y[0]) / (x[1] - x[0])
        return FmmSpline(x, y, b, c, d)
    # the tridiagonal system: b the diagonal, d the off-diagonal, c the right-hand side (second differences)
    d[:-1] = x[1:] - x[:-1]
    slope = (y[1:] - y[:-1]) / d[:-1]
    b[1:-1] = 2.0 * (d[:-2] + d[1:-1])
    c[1:-1] = slope[1:] - slope[:-1]
    b[0], b[-1] = -d[0], -d[-2]
    if n > 3:  # third derivatives at the ends from divided differences of the first / last four points
        c[0] = (c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])) * d[0] * d[0] / (x[3] - x[0])
        c[-1] = -(c[-2] / (x[-1] - x[-3]) - c[-3] / (x[-2] - x[-4])) * d[-2] * d[-2] / (x[-1] - x[-4])
    for i in range(1, n):  # Gaussian elimination, then back substitution (sequential, as R)
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[-1] = c[-1] / b[-1]
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[-1] = (y[-1] - y[-2]) / d[-2] + d[-2] * (c[-2] + 2.0 * c[-1])
    b[:-1] = (y[1:] - y[:-1]) / d[:-1] - d[:-1] * (c[1:] + 2.0 * c[:-1])
    d[:-1] = (c[1:] - c[:-1]) / d[:-1]
    d[-1] = d[-2]
    return FmmSpline(x, y, b, 3.0 * c, d)


@dataclass(frozen=True)
class VstTrend:
    """The dispersion trend a transform uses, and the genes it was fitted on."""

    fit_type: Literal["parametric", "local"]  #: DESeq2's ``attr(dispersionFunction, "fitType")``
    coefficients: np.ndarray | None  #: ``(asymptDisp, extraPois)`` of a parametric trend
    disp_function: Callable[[np.ndarray], np.ndarray]  #: dispersion at mean normalised counts
    genes: pd.Index  #: the genes fitted: DESeq2's ``nsub`` subset, or every gene (``all_genes``)
    all_genes: bool  #: fewer than ``nsub`` genes had a mean above 5: fitted on all (varianceStabilizingTransformation)


def vst_subset(means: np.ndarray, nsub: int = NSUB) -> np.ndarray | None:
    """Positions of DESeq2's ``vst`` subset: of the genes with a mean above 5, ordered by mean (ties in order),
    those at ``round(seq(1, n, length = nsub))``; None where DESeq2's ``vst`` stops (fewer than ``nsub`` genes,
    or fewer than ``nsub`` with a mean above 5)."""
    means = np.asarray(means, dtype=float)
    above = np.flatnonzero(means > MIN_MEAN)
    if len(means) < nsub or len(above) < nsub:
        return None
    ordered = above[np.argsort(means[above], kind="stable")]
    # R: seq(1, n, length = nsub) is 1 + i * ((n - 1) / (nsub - 1)) with n last; round() halves to even
    return ordered[np.round(np.linspace(1.0, float(len(ordered)), nsub)).astype(int) - 1]


def fit_vst_trend(counts: pd.DataFrame, size_factors: np.ndarray, nsub: int = NSUB,
                  fit_type: Literal["parametric", "local"] = "parametric") -> VstTrend:
    """The trend of DESeq2's blind ``vst``: gene-wise dispersions (``~ 1``) and the trend on :func:`vst_subset`
    (on every gene where that is None), by :class:`.nbinom.FastDeseqDataSet` with the given size factors.

    Parameters
    ----------
    counts : pandas.DataFrame
        Samples x genes.
    size_factors : numpy.ndarray
        One per sample (DESeq2's, of all genes).
    fit_type : {"parametric", "local"}
        DESeq2's ``fitType``; "parametric" falls back to "local" where its fit fails, as DESeq2's does.

    Raises
    ------
    ValueError
        Where no fitted gene has a dispersion above ``100 x minDisp`` (DESeq2 stops too).
    """
    size_factors = np.asarray(size_factors, dtype=float)
    index = vst_subset((counts.to_numpy(float) / size_factors[:, None]).mean(axis=0), nsub)
    subset = counts if index is None else counts.iloc[:, index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydeseq2's FutureWarnings, and the engine's note on the local fallback
        dds = FastDeseqDataSet(counts=subset, metadata=pd.DataFrame({"all": "all"}, index=counts.index),
                               design="~ 1", inference=VectorizedInference(n_cpus=1), quiet=True)
        dds.obs["size_factors"] = size_factors
        dds.layers["normed_counts"] = dds.X / size_factors[:, None]
        dds.var["_normed_means"] = dds.layers["normed_counts"].mean(axis=0)
        dds.fit_genewise_dispersions()
        genewise = dds.var["genewise_dispersions"].to_numpy(float)
        fitted = dds.var["non_zero"].to_numpy(bool) & trend_genes(genewise, dds.min_disp)
        if not fitted.any():
            raise ValueError("every gene-wise dispersion is within 100 x minDisp: DESeq2 fits no trend")
        if fit_type == "parametric":
            dds.fit_dispersion_trend()  # DESeq2's parametric fit, its local fit where that fails
        else:
            means = dds.var["_normed_means"].to_numpy(float)
            dds.uns["disp_function_type"] = "local"
            dds.uns["local_trend"] = fit_local_trend(means[fitted], genewise[fitted], dds.min_disp)
    kind = dds.uns["disp_function_type"]
    coefficients = dds.uns["trend_coeffs"].to_numpy(float) if kind == "parametric" else None
    return VstTrend(kind, coefficients, lambda x: np.asarray(dds.disp_function(np.asarray(x, dtype=float)), float),
                    subset.columns, index is None)


def transform(counts: pd.DataFrame, size_factors: np.ndarray, trend: VstTrend) -> pd.DataFrame:
    """DESeq2's ``getVarianceStabilizedData`` with ``trend``: every gene of ``counts`` (samples x genes), log2 scale.

    Parametric: ``log2((1 + a1 + 2 a0 q + 2 sqrt(a0 q (1 + a1 + a0 q))) / (4 a0))`` of the normalised counts
    ``q``. Local: the trapezoidal integral of ``1 / sqrt(disp(x) x^2 + mean(1 / sf) x)`` over an ``asinh``-spaced
    grid up to the largest normalised count, interpolated in ``asinh(x)`` by :func:`fmm_spline`, then scaled
    so that the 95% and 99.9% quantiles of the genes' means map to their own ``log2``.
    """
    size_factors = np.asarray(size_factors, dtype=float)
    q = counts.to_numpy(float) / size_factors[:, None]
    if trend.fit_type == "parametric":
        a0, a1 = trend.coefficients
        values = np.log((1 + a1 + 2 * a0 * q + 2 * np.sqrt(a0 * q * (1 + a1 + a0 * q))) / (4 * a0)) / np.log(2)
    else:
        grid = np.sinh(np.linspace(0.0, np.arcsinh(q.max()), GRID))[1:]
        variance = trend.disp_function(grid) * grid ** 2 + np.mean(1 / size_factors) * grid
        integrand = 1 / np.sqrt(variance)
        steps = (grid[1:] - grid[:-1]) * (integrand[1:] + integrand[:-1]) / 2
        # R's cumsum adds in long double
        spline = fmm_spline(np.arcsinh((grid[1:] + grid[:-1]) / 2),
                            np.cumsum(steps.astype(np.longdouble)).astype(float))
        h1, h2 = r_quantile(q.mean(axis=0), np.array([LOW_QUANTILE, HIGH_QUANTILE]))
        eta = (np.log2(h2) - np.log2(h1)) / (spline(np.arcsinh(h2)) - spline(np.arcsinh(h1)))
        xi = np.log2(h1) - eta * spline(np.arcsinh(h1))
        values = eta * spline(np.arcsinh(q)) + xi
    return pd.DataFrame(values, index=counts.index, columns=counts.columns)


def blind_vst(counts: pd.DataFrame, size_factors: np.ndarray, nsub: int = NSUB,
              fit_type: Literal["parametric", "local"] = "parametric") -> tuple[pd.DataFrame, VstTrend]:
    """DESeq2's ``vst(blind = TRUE, nsub, fitType)``; where that would stop (fewer than ``nsub`` genes with a mean
    above 5), ``varianceStabilizingTransformation(blind = TRUE, fitType)``: the trend fitted on every gene.

    Parameters
    ----------
    counts : pandas.DataFrame
        Samples x genes: raw counts of the genes to transform (R's transform is given the genes with a count;
        all-zero genes would enter the quantiles of the local branch as they do in R).
    size_factors : numpy.ndarray
        DESeq2's size factors of the samples, from all genes.

    Returns
    -------
    tuple of pandas.DataFrame and VstTrend
        The transformed counts (samples x genes, log2 scale) and the trend used.
    """
    trend = fit_vst_trend(counts, size_factors, nsub, fit_type)
    return transform(counts, size_factors, trend), trend

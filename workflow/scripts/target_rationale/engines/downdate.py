"""Residual sums of squares of a linear model refitted without some of its samples, from one fit on all of them.

Leaving the samples ``S`` out of a least-squares fit is the same as giving each of them a column of its own (the
mean-shift outlier model): the fit then matches them exactly and the other samples' fit is the refit's. With ``H``
the full design's hat matrix and ``e`` a gene's residuals, the added columns take out

    ``e_S' (I - H)_SS^+ e_S``

of the residual sum of squares, the pseudo-inverse covering a refit that loses a coefficient with the samples (a
patient's own column when all its samples leave). The residual degrees of freedom fall by ``|S|`` less the
coefficients lost. The formula needs the refit's design to span what the full design spans over the kept samples
(true of treatment-coded factors and plain covariates; not of a spline whose knots move with the samples):
:meth:`Residuals.without` checks that and returns None otherwise, and the caller fits directly.

Each refit costs ``O(genes x |S|^2)`` instead of a pass over the whole matrix (``O(genes x n x p)``): the axis
tests' leave-one-patient-out fits (:mod:`target_rationale.targets.axis_test`) take their variance prior this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Eigenvalues of ``(I - H)_SS`` below this count as zero (a coefficient left with the samples).
_RANK_TOLERANCE = 1e-10
#: Largest relative residual of the refit's design on the full design's columns (kept samples).
_SPAN_TOLERANCE = 1e-8


@dataclass(frozen=True)
class Residuals:
    """One least-squares fit of every gene on all samples, kept for refits that leave samples out.

    Attributes
    ----------
    q : numpy.ndarray
        Samples x coefficients: an orthonormal basis of the design's column space.
    residuals : numpy.ndarray
        Samples x genes: each gene's residuals.
    rss : numpy.ndarray
        Per gene, the residual sum of squares.
    """

    q: np.ndarray
    residuals: np.ndarray
    rss: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, design: np.ndarray, samples: Sequence[int] | None = None,
           block: int = 4096) -> Residuals:
        """The fit of ``y`` (samples x genes; only its rows ``samples``, in that order, when given) on
        ``design`` (those samples x coefficients, full column rank), ``block`` genes at a time."""
        rows = np.arange(len(y)) if samples is None else np.asarray(samples, dtype=np.int64)
        design = np.asarray(design, dtype=float)
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise ValueError("design must be of full column rank")
        q = np.linalg.qr(design, mode="reduced")[0]
        residuals = np.empty((len(rows), y.shape[1]))
        for start in range(0, y.shape[1], block):
            part = np.asarray(y[rows, start:start + block], dtype=float)
            residuals[:, start:start + block] = part - q @ (q.T @ part)
        return cls(q, residuals, np.einsum("ij,ij->j", residuals, residuals))

    def without(self, left_out: Sequence[int], design: np.ndarray) -> np.ndarray | None:
        """Per gene, the residual sum of squares of the refit without the samples at positions ``left_out``, on
        ``design`` (the kept samples, in their order, x the refit's coefficients); None when ``design`` does not
        span what the full design spans over the kept samples (the formula does not hold: fit directly)."""
        n, p = self.q.shape
        gone = np.unique(np.asarray(left_out, dtype=np.int64))
        kept = np.setdiff1d(np.arange(n), gone)
        design = np.asarray(design, dtype=float)
        if design.shape[0] != len(kept):
            return None
        q_gone = self.q[gone]
        if len(gone):
            values, vectors = np.linalg.eigh(np.eye(len(gone)) - q_gone @ q_gone.T)
            nonzero = values > _RANK_TOLERANCE
            inverse = (vectors[:, nonzero] / values[nonzero]) @ vectors[:, nonzero].T  # (I - H)_SS^+
        else:  # nothing left out (e.g. a patient without samples in the contrast): the full fit itself
            nonzero, inverse = np.zeros(0, bool), np.zeros((0, 0))
        if design.shape[1] != p + int(nonzero.sum()) - len(gone):
            return None
        # one combination of the refit's columns (fixed weights) must lie in the full design's span over the
        # kept samples: its residual under the mean-shift model must vanish there
        z = np.zeros(n)
        z[kept] = design @ np.random.default_rng(0).uniform(0.5, 1.5, design.shape[1])
        u = z - self.q @ (self.q.T @ z)
        columns = -self.q @ q_gone.T
        columns[gone, np.arange(len(gone))] += 1.0  # (I - H)[:, S]
        residual = u - columns @ (inverse @ u[gone])
        if np.linalg.norm(residual[kept]) > _SPAN_TOLERANCE * max(np.linalg.norm(z), 1e-300):
            return None
        e_gone = self.residuals[gone]
        return np.maximum(self.rss - np.einsum("ig,ig->g", inverse @ e_gone, e_gone), 0.0)

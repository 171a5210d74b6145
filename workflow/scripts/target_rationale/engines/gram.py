"""Every gene's ``X^T diag(w_g) X`` in one matrix product: the linear algebra the vectorised DE engine shares."""

from __future__ import annotations

import numpy as np


def outer_rows(design: np.ndarray) -> np.ndarray:
    """``x_n x_n^T`` of every row ``x_n`` of the design, flattened: (samples, p * p)."""
    n, p = design.shape
    return (design[:, :, None] * design[:, None, :]).reshape(n, p * p)


def gram(weights: np.ndarray, outer: np.ndarray, p: int) -> np.ndarray:
    """``X^T diag(w_g) X`` for every gene ``g`` (weights: samples x genes; ``outer``: :func:`outer_rows`):
    one matrix product, (genes, p, p)."""
    return (weights.T @ outer).reshape(-1, p, p)

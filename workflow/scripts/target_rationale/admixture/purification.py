"""The tumour's reads of each count, given each count's expected host reads (config ``admixture.purification``).

Two forms, which agree at the level of a group of samples and differ per sample:

* ``subtract`` (the default): ``max(count - e, 0)``. Where the host makes most of a gene's reads, the count's
  whole noise, and the host's own variation from sample to sample (a liver biopsy's endothelium and stroma vary
  and have no liver-specific marker), stays on a small remainder, and a sample whose host reads were
  over-estimated falls to 0 (a log-scale score then reads a large drop).
* ``estep``: ``count x t / (t + e)``, the expected tumour reads given the count when tumour and host reads are
  independent counts with means ``t`` and ``e`` (the E-step of the mixture model the adjustment assumes). ``t``,
  the tumour's expected reads, is fitted on the samples (:func:`tumour_reads`): per gene, least squares of
  ``(count - e) / s`` on the design matrix (``s`` the subtracted libraries' size factors), on the count scale,
  where ``count - e`` is an unbiased estimate of ``t`` (a fit of log counts would read ``exp(mean log)``, below
  the mean by the noise). A count is scaled by the tumour's share instead of having the host's mean taken off:
  never 0 where the count is not, its noise scaled down with the tumour's share. The cost: a sample's own
  departure from the design's fit is scaled down with it where the host dominates.

``benchmarks/admixture_purification.py`` measures both with the workflow's host model and Wald adjustment.
"""

from __future__ import annotations

import numpy as np

#: The forms of :func:`purified_counts` (config ``admixture.purification``).
PURIFICATIONS = ("subtract", "estep")
#: The least tumour level the E-step's fit gives a count, in reads (a fit at or below 0: the host explains it all).
MIN_TUMOUR_READS = 0.5


def subtracted(counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``max(counts - expected, 0)`` (samples x genes, not rounded)."""
    return np.maximum(counts - expected, 0.0)


def tumour_reads(counts: np.ndarray, expected: np.ndarray, design: np.ndarray) -> np.ndarray:
    """The tumour's expected reads per count: the design's least-squares fit of each gene's subtracted counts.

    Parameters
    ----------
    counts : numpy.ndarray
        Raw counts, samples x genes.
    expected : numpy.ndarray
        Each count's expected host reads.
    design : numpy.ndarray
        Samples x coefficients, the design matrix (rank-deficient is allowed: the least-norm fit).

    Returns
    -------
    numpy.ndarray
        ``s_i max(X_i beta_g, m / s_i)``, samples x genes, with ``s`` the subtracted libraries over their geometric
        mean, ``beta_g`` the least-squares fit of ``(counts - expected) / s`` (not cut at 0, so that it stays
        unbiased) and ``m`` :data:`MIN_TUMOUR_READS`.
    """
    library = np.maximum(subtracted(counts, expected).sum(axis=1), 1.0)
    size = library / np.exp(np.log(library).mean())
    beta = np.linalg.lstsq(design, (counts - expected) / size[:, None], rcond=None)[0]
    return np.maximum(size[:, None] * (design @ beta), MIN_TUMOUR_READS)


def estep(counts: np.ndarray, expected: np.ndarray, design: np.ndarray) -> np.ndarray:
    """``counts x t / (t + expected)`` with ``t`` from :func:`tumour_reads` (samples x genes, not rounded;
    ``counts`` where ``expected`` is 0)."""
    tumour = tumour_reads(counts, expected, design)
    return np.where(expected > 0, counts * tumour / (tumour + expected), counts)


def purified_counts(counts: np.ndarray, expected: np.ndarray, form: str = "subtract",
                    design: np.ndarray | None = None) -> np.ndarray:
    """The purified counts, rounded to whole reads (int64).

    Parameters
    ----------
    counts : numpy.ndarray
        Raw counts, samples x genes.
    expected : numpy.ndarray
        Each count's expected host reads.
    form : str
        One of :data:`PURIFICATIONS`.
    design : numpy.ndarray, optional
        The design matrix (samples x coefficients); needed by ``estep``.

    Returns
    -------
    numpy.ndarray
        Samples x genes, int64.
    """
    if form == "subtract":
        values = subtracted(counts, expected)
    elif form == "estep":
        if design is None:
            raise ValueError("the E-step needs the design matrix")
        values = estep(counts, expected, design)
    else:
        raise ValueError(f"unknown purification {form!r}; choose from {', '.join(PURIFICATIONS)}")
    return np.rint(values).astype(np.int64)

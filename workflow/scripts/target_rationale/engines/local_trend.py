"""DESeq2's local dispersion trend (1.38.3, ``localDispersionFit``), the ``locfit`` fit redone in numpy.

DESeq2 fits ``locfit(log(disp) ~ log(mean), weights = mean)`` to the genes whose dispersion is at least
``10 x minDisp`` (and returns ``minDisp`` everywhere when there are none), then predicts ``exp`` of the fit.
locfit 1.5-9.x with its defaults (``nn = 0.7``, ``deg = 2``, tricube, quasi-gaussian, ``ev = rbox()``) does this
in 1-D, and this module repeats each rule (the C functions named are locfit's):

* **global part** (``compparcomp``, ``noparcomp``): a weighted quadratic in ``x - xbar`` (prior weights, ``xbar``
  their weighted mean) is fitted first; vertices store the local fit less this quadratic (``subparcomp``) and
  predictions add it back (``addparcomp``), so beyond the data the extrapolation keeps its curvature.
* **local fits** (``nbhd``, ``compbandwid``, ``kordstat``, ``weightsph``, ``W``, ``fitfun``): at a vertex ``v``
  the bandwidth ``h`` is the ``k``-th smallest ``|x - v|``, ``k = int(n * 0.7 + 1e-12)`` (a count: prior weights
  play no part), the weights are ``(1 - (d / h)^3)^3`` times the prior weights, the basis ``1, dx, dx^2 / 2``.
* **the solve** (``reginit``, ``likereg``, ``max_nr``, ``jacob_dec``, ``jacob_solve``, ``eig_dec``,
  ``eig_solve``): one Newton step from the weighted mean; ``X'WX`` is scaled to unit diagonal, decomposed by
  cyclic Jacobi rotations (a pair is skipped when ``a_ij^2 <= 1e-15 |a_ii a_jj|``, at most 20 sweeps), and
  eigenvalues not above ``1e-8`` of the largest are left undivided. Where no point has weight (``LF_NOPT``) the
  previous fit's coefficients are kept, as locfit does. Sums run one term at a time in locfit's point order (data
  order; for sorted data ``nbhd1``'s walk left from the vertex, then right), so the results agree to the last bit.
* **the tree** (``set_flim``, ``atree_guessnv``, ``atree_start``, ``atree_grow``, ``atree_split``,
  ``newsplit``): vertices start at the data's min and max; a cell is halved (left half first) while its width
  exceeds ``0.8`` times the smaller positive bandwidth of its ends (when neither is positive: while
  ``2 x width / range`` exceeds 0.8). A pseudo-vertex needs ``width < 0.8 min(h)``, the opposite of the split
  rule, so in 1-D there are none. locfit allows ``int((5 / 0.7 / 0.8 + 1) * 2) = 19`` vertices and stops with
  an error past that.
* **prediction** (``atree_int``, ``hermite2``, ``rectcell_interp``): descend the tree (left while
  ``2 (x - lo) < width``), cubic Hermite interpolation of value and slope; outside the cell (beyond the data) the
  end's value plus its slope times the distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: DESeq2 fits genes whose dispersion is at least this multiple of ``minDisp``.
FIT_FACTOR = 10.0
#: locfit defaults: nearest-neighbour fraction, tree cut, vertex room (``atree_guessnv``).
NN_ALPHA = 0.7
CUT = 0.8
MAX_VERTICES = int((5 * (1 / NN_ALPHA) / CUT + 1) * 2)
#: ``eig_dec`` / ``eig_solve`` tolerances.
JACOBI_SKIP = 1e-15
JACOBI_SWEEPS = 20
EIGEN_TOL = 1e-8


@dataclass(frozen=True)
class LocalTrend:
    """A fitted locfit tree: vertices sorted by log mean, the local fit there, and the global quadratic."""

    vertices: np.ndarray  #: log-mean positions of the tree's vertices, sorted
    values: np.ndarray  #: fitted log dispersion at each vertex
    slopes: np.ndarray  #: its derivative in log mean at each vertex
    bandwidths: np.ndarray  #: nearest-neighbour bandwidth at each vertex (decides the tree's splits)
    xbar: float  #: weighted mean log mean, centre of the global quadratic
    quadratic: np.ndarray  #: global quadratic's coefficients on ``1, x - xbar, (x - xbar)^2 / 2``


def _jacobi(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors (columns) of symmetric ``a`` by locfit's cyclic Jacobi rotations."""
    a, vectors, p = a.copy(), np.eye(len(a)), len(a)
    for _ in range(JACOBI_SWEEPS):
        rotated = False
        for i in range(p):
            for j in range(i + 1, p):
                if a[i, j] * a[i, j] <= JACOBI_SKIP * abs(a[i, i] * a[j, j]):
                    continue
                half, off = (a[j, j] - a[i, i]) / 2, -a[i, j]
                cos2 = half / np.sqrt(half * half + off * off)
                s = np.sqrt((1 - cos2) / 2) * (1.0 if off > 0 else -1.0)
                c = np.sqrt((1 + cos2) / 2)
                for m in (a, a.T, vectors.T):  # rows of a, then its columns, then the eigenvector columns
                    u, v = m[i].copy(), m[j].copy()
                    m[i], m[j] = u * c + v * s, v * c - u * s
                a[i, j] = a[j, i] = 0.0
                rotated = True
        if not rotated:
            break
    return np.diag(a).copy(), vectors


def _seqsum(values: np.ndarray) -> np.ndarray:
    """Sum over the first axis in order, one term at a time, as locfit's loops add (not numpy's pairwise sum)."""
    return np.cumsum(values, axis=0)[-1]


def _solve(xtwx: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """locfit's ``jacob_solve``: scale to unit diagonal, Jacobi-decompose, divide by the eigenvalues kept."""
    diag = np.diag(xtwx)
    scale = np.where(diag > 0, 1 / np.sqrt(np.where(diag > 0, diag, 1.0)), 0.0)
    values, vectors = _jacobi(xtwx * np.outer(scale, scale))
    rhs, p = rhs * scale, len(rhs)
    w = [sum((vectors[j, i] * rhs[j] for j in range(p)), 0.0) for i in range(p)]
    w = [wi / di if di > EIGEN_TOL * values.max() else wi for wi, di in zip(w, values)]
    return np.array([sum((vectors[i, j] * w[j] for j in range(p)), 0.0) for i in range(p)]) * scale


def _basis(dx: np.ndarray) -> np.ndarray:
    """locfit's degree-2 basis ``1, dx, dx^2 / 2`` (``fitfun``), one row per point."""
    dx = np.asarray(dx, dtype=float)
    return np.stack([np.ones_like(dx), dx, dx * dx / 2], axis=-1)


def _quadratic_at(q: np.ndarray, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The quadratic ``q`` on the basis at ``dx``, and its derivative, summed in locfit's order (``innerprod``)."""
    return q[0] + q[1] * dx + q[2] * (dx * dx / 2), q[1] + q[2] * dx


def _one_fit(dx: np.ndarray, y: np.ndarray, kernel: np.ndarray, prior: np.ndarray,
             previous: np.ndarray) -> np.ndarray:
    """One ``locfit`` call over the points with positive weight (in locfit's order): ``reginit``'s weighted mean
    and one Newton step (``likereg``, ``max_nr``); ``previous`` where no point has weight (``LF_NOPT``)."""
    weight = kernel * prior
    total = _seqsum(weight) if len(weight) else 0.0
    if not total > 0:
        return previous
    start = _seqsum(kernel * (prior * y)) / total
    basis = _basis(dx)
    gradient = _seqsum(basis * kernel[:, None] * (prior * (y - start))[:, None])
    xtwx = _seqsum(weight[:, None, None] * basis[:, :, None] * basis[:, None, :])
    return np.array([start, 0.0, 0.0]) + _solve(xtwx, gradient)


def _local_fit(x: np.ndarray, y: np.ndarray, prior: np.ndarray, vertex: float, k: int, ordered: bool,
               previous: np.ndarray) -> tuple[np.ndarray, float]:
    """Local quadratic at ``vertex`` (``nbhd`` / ``nbhd1``): its coefficients and nearest-neighbour bandwidth."""
    dist = np.abs(x - vertex)
    h = float(np.partition(dist, k - 1)[k - 1]) if k > 0 else 0.0
    if h > 0:
        u = dist / h
        t = 1 - u * u * u
        kernel = np.where(u > 1, 0.0, t * t * t)
    else:
        kernel = (dist == 0).astype(float)
    if ordered:  # sorted data: locfit walks left from the point below the vertex, then right
        z = 0 if vertex <= x[0] else int(np.searchsorted(x, vertex, side="right")) - 1
        index = np.r_[np.arange(z, -1, -1), np.arange(z + 1, len(x))]
    else:
        index = np.arange(len(x))
    index = index[kernel[index] > 0]
    return _one_fit(x[index] - vertex, y[index], kernel[index], prior[index], previous), h


def fit_local_trend(means: np.ndarray, dispersions: np.ndarray, min_disp: float) -> LocalTrend | None:
    """DESeq2's ``localDispersionFit``: the locfit tree of log dispersion on log mean, weighted by the mean.

    Parameters
    ----------
    means, dispersions : numpy.ndarray
        The genes DESeq2 passes (its mean normalized counts and gene-wise dispersions).
    min_disp : float
        DESeq2's ``minDisp``; genes with a dispersion below ``10 x min_disp`` are left out of the fit.

    Returns
    -------
    LocalTrend or None
        None where every dispersion is below ``10 x min_disp`` (DESeq2 then uses ``min_disp``).

    Raises
    ------
    RuntimeError
        Where the tree needs more than 19 vertices (locfit: "newsplit: out of vertex space").
    """
    means, dispersions = np.asarray(means, dtype=float), np.asarray(dispersions, dtype=float)
    used = dispersions >= min_disp * FIT_FACTOR
    if not used.any():
        return None
    x, y, prior = np.log(means[used]), np.log(dispersions[used]), means[used]
    k, ordered = int(len(x) * NN_ALPHA + 1e-12), bool(np.all(np.diff(x) >= 0))
    xbar = float(_seqsum(x * prior) / _seqsum(prior))
    quadratic = _one_fit(x - xbar, y, np.ones_like(x), prior, np.zeros(3))
    lo, hi = float(x.min()), float(x.max())
    xs, coefs, hs = [], [], []

    def add_vertex(v: float) -> int:
        if len(xs) == MAX_VERTICES:
            raise RuntimeError("locfit: newsplit: out of vertex space")
        coef, h = _local_fit(x, y, prior, v, k, ordered, coefs[-1] if coefs else quadratic)
        xs.append(v)
        coefs.append(coef)
        hs.append(h)
        return len(xs) - 1

    def grow(left: int, right: int) -> None:
        if not _splits(xs[right] - xs[left], hs[left], hs[right], hi - lo):
            return
        middle = add_vertex((xs[left] + xs[right]) / 2)
        grow(left, middle)
        grow(middle, right)

    grow(add_vertex(lo), add_vertex(hi))
    order = np.argsort(xs, kind="stable")
    coefs = np.asarray(coefs)[order]
    return LocalTrend(np.asarray(xs)[order], coefs[:, 0].copy(), coefs[:, 1].copy(), np.asarray(hs)[order],
                      xbar, quadratic)


def _splits(width: np.ndarray, h_left: np.ndarray, h_right: np.ndarray, data_range: float) -> np.ndarray:
    """locfit's ``atree_split`` in 1-D (works elementwise): is a cell of this width halved?"""
    width, h_left, h_right = (np.asarray(a, dtype=float) for a in (width, h_left, h_right))
    hmin = np.where(h_left > 0, np.where(h_right > 0, np.minimum(h_left, h_right), h_left), h_right)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(hmin > 0, width / np.where(hmin > 0, hmin, 1.0), 2 * width / data_range)
    return CUT < score


def predict_local_trend(trend: LocalTrend, means: np.ndarray) -> np.ndarray:
    """The trend's dispersions at ``means``: ``exp`` of locfit's interpolated log dispersion (``atree_int``)."""
    x = np.log(np.asarray(means, dtype=float))
    v, h = trend.vertices, trend.bandwidths
    left, right = np.zeros(x.shape, dtype=int), np.full(x.shape, len(v) - 1)
    active = np.ones(x.shape, dtype=bool)
    while active.any():
        width = v[right] - v[left]
        active &= _splits(width, h[left], h[right], v[-1] - v[0])
        middle = np.searchsorted(v, (v[left] + v[right]) / 2)
        lower = 2 * (x - v[left]) < width
        right = np.where(active & lower, middle, right)
        left = np.where(active & ~lower, middle, left)
    # the stored vertex coefficients are the local fit less the global quadratic (subparcomp)
    q_value, q_slope = _quadratic_at(trend.quadratic, v - trend.xbar)
    f, d = trend.values - q_value, trend.slopes - q_slope
    width = v[right] - v[left]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(width == 0, 0.0, (x - v[left]) / width)
    p1 = np.where(t < 0, 0.0, np.where(t > 1, 1.0, t * t * (3 - 2 * t)))
    p0 = np.where(t < 0, 1.0, np.where(t > 1, 0.0, 1 - p1))
    p2 = np.where(t < 0, t, np.where(t > 1, 0.0, t * (1 - t) * (1 - t))) * width
    p3 = np.where(t < 0, 0.0, np.where(t > 1, t - 1, t * t * (t - 1))) * width
    fit = p0 * f[left] + p1 * f[right] + p2 * d[left] + p3 * d[right]
    return np.exp(fit + _quadratic_at(trend.quadratic, x - trend.xbar)[0])

"""The host's levels in this cohort: its make-up fitted on the samples, and a per-gene calibration.

Within the samples of one host, a gene's share of reads is ``(1 - f) x tumour + f x host`` whatever the tumour
makes. :func:`fit_host_mix` uses that on every gene at once to fit the host's make-up (weights of the reference's
tissue and cell-type profiles) and how far a gene's level strays from it; :func:`calibrate_host_levels` uses it
gene by gene to correct the expected host level where the samples show otherwise. Both are pure functions of
count matrices; :mod:`target_rationale.admixture.adjust` applies them to a cohort.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from target_rationale.admixture.anchors import HOSTS, TUMOUR_LIKE, HostSpec
from target_rationale.admixture.reference import HostReference

#: Largest sd of a host level extrapolated to a host fraction of 1, in units of one sample's noise, from which
#: the host's make-up is still fitted on the cohort (:func:`fit_host_mix`).
MAX_EXTRAPOLATION = 4.0
#: Host level (a share of reads) from which a gene counts in the comparison of a fitted make-up with the tissue
#: profile (:func:`fit_host_mix`).
MIN_LEVEL = 1e-6
#: Least sd of the host fractions of a host's samples for the make-up fit and the per-gene calibration.
MIN_SPREAD = 0.02
#: An even grid over +-6 sd of a standard normal: the quadrature of a host level's error, in units of its sd
#: (:func:`~target_rationale.admixture.groups.level_error_moment`).
NORMAL_GRID = np.linspace(-6.0, 6.0, 241)
#: The wide component of a host level's prior around the make-up (sd of log k): a cell type the fitted make-up
#: misses (Kupffer cells, sinusoidal endothelium at 0 where the liver has a few per cent) leaves its genes tens to
#: hundreds of times above their expected level, which a normal prior of sd ~0.5 cannot reach
#: (:func:`calibrate_host_levels`).
WIDE_SD = 3.0
#: Bounds of the wide component's share of genes (fitted per host on the cohort): at least one gene in 50, so that
#: a cell type with few specific genes, which cannot raise the fitted share, is still reached.
MIN_WIDE_SHARE, MAX_WIDE_SHARE = 0.02, 0.5
#: The grid of log k the posterior is computed on: +-9 (a factor of 8,100 either way), in steps of 0.025.
LOG_FACTOR_LIMIT, GRID_POINTS = 9.0, 721


def mix_components(reference: HostReference, host: str, specs: Mapping[str, HostSpec] = HOSTS) -> list[str]:
    """The reference profiles a host's make-up is fitted on (:func:`fit_host_mix`): its tissue profile and its
    resident and stromal cell types, never a tumour-like profile (islet cells)."""
    spec = specs[host]
    cells = [c for c in spec.cell_types if c in reference.profiles and c not in TUMOUR_LIKE and c != spec.profile]
    return [spec.profile, *cells]


def _fit_weights(a: np.ndarray, b: np.ndarray, v: np.ndarray, starts: Sequence[np.ndarray], gene_sd: float
                 ) -> np.ndarray:
    """Weights >= 0 summing to 1 minimising ``sum (b - a w)^2 / (v + (gene_sd x max(a w, b))^2)`` (SLSQP from
    each start; the best fit)."""
    from scipy.optimize import minimize  # here: the report and the targets stage import this module, not scipy

    observed = np.maximum(b, 0.0)

    def loss(w: np.ndarray) -> float:
        fitted = a @ w
        return float((((b - fitted) ** 2) / (v + (gene_sd * np.maximum(fitted, observed)) ** 2 + 1e-24)).sum())

    total = {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}
    fits = [minimize(loss, start, method="SLSQP", bounds=[(0.0, 1.0)] * a.shape[1], constraints=[total],
                     options={"maxiter": 500, "ftol": 1e-10}) for start in starts]
    best = min(fits, key=lambda fit: fit.fun)
    weights = np.where(best.x > 1e-4, best.x, 0.0)
    return weights / weights.sum()


def _nll(b: np.ndarray, v: np.ndarray, fitted: np.ndarray, tau: float) -> float:
    """Normal negative log-likelihood (up to a constant) of ``b ~ N(fitted, v + (tau x fitted)^2)``."""
    total = v + (tau * fitted) ** 2 + 1e-30
    return float((np.log(total) + (b - fitted) ** 2 / total).sum())


def _spread(b: np.ndarray, v: np.ndarray, fitted: np.ndarray) -> tuple[float, float]:
    """The host's per-gene spread around a mix (sd of a relative error): the ``tau`` in ``[0.05, 3]`` maximising
    the likelihood of ``b ~ N(fitted, v + (tau x fitted)^2)``, and that likelihood (:func:`_nll`)."""
    from scipy.optimize import minimize_scalar  # see _fit_weights

    best = minimize_scalar(lambda tau: _nll(b, v, fitted, tau), bounds=(0.05, 3.0), method="bounded")
    return float(best.x), float(best.fun)


def _host_line(y: np.ndarray, fractions: np.ndarray, deviations: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Per gene, the host's level at ``f = 1`` and the typical cell mix (the line ``intercept + slope x f``,
    with the samples' cell-mix ``deviations`` as extra columns whose coefficients are not part of the level),
    its variance from the residuals, and that variance over one sample's noise (how far the line extrapolates);
    None when the design is singular."""
    n = len(fractions)
    extra = np.zeros((n, 0)) if deviations is None else np.asarray(deviations, dtype=float).reshape(n, -1)
    design = np.column_stack([np.ones(n), fractions, extra])
    if n <= design.shape[1] or np.linalg.matrix_rank(design) < design.shape[1]:
        return None
    inverse = np.linalg.inv(design.T @ design)
    at_one = np.zeros(design.shape[1])
    at_one[:2] = 1.0
    extrapolation = float(at_one @ inverse @ at_one)
    coef = inverse @ design.T @ y
    residual = y - design @ coef
    noise = (residual ** 2).sum(axis=0) / (n - design.shape[1])
    return at_one @ coef, noise * extrapolation, extrapolation


def fit_host_mix(counts: np.ndarray, library: np.ndarray, fractions: np.ndarray, components: np.ndarray,
                 gene_sd: float = 0.5, min_samples: int = 4, max_extrapolation: float = MAX_EXTRAPOLATION,
                 deviations: np.ndarray | None = None, select: bool = True) -> tuple[np.ndarray, float, bool]:
    """The host's make-up in this cohort: non-negative weights of reference profiles, fitted on every gene, and
    how far a gene's level strays from it.

    Within the samples of one host, a gene's share of reads is ``(1 - f) x tumour + f x host`` whatever the
    tumour makes, so a straight line in ``f`` per gene extrapolated to ``f = 1`` estimates the host's level
    ``h_g`` (with a variance from the line's residuals). The host's levels are modelled as a mix of reference
    profiles, ``h_g = sum_j w_j q_jg``; the weights (>= 0) minimise, over all genes, ``(h_g - fitted)^2 / (variance
    + (tau x max(fitted, h_g))^2)`` (SLSQP, summing to 1, from the tissue profile alone and from equal weights; the
    better fit is kept): a real host differs from any mix gene by gene, and without that term the most expressed
    genes would decide alone. ``tau``, the spread of a gene's level around the mix (sd of a relative error), starts
    at ``gene_sd`` and is then estimated on the genes (maximum likelihood, ``h_g ~ N(fitted, variance + (tau x
    fitted)^2)``), the weights refitted with it. A handful of weights fitted on thousands of genes: the make-up is
    well determined where a per-gene level is not (a host richer in endothelium than the reference's tissue raises
    every endothelial gene). The fitted make-up is kept only when it explains the genes better than the tissue
    profile alone by more than its extra weights cost (Akaike's criterion on that likelihood, over the genes either
    gives at least ``MIN_LEVEL``), and with a spread below the bound 3. The weights sum to 1 (a gene's share of the
    host's reads is a share of each profile's). Needs ``min_samples`` samples whose fractions are spread enough for
    the line at ``f = 1`` to be an estimate, not an extrapolation of noise: its sd at most ``max_extrapolation``
    times a single sample's noise (liver metastases with fractions 0.1-0.5: about 2; primaries with 0-0.2 of
    exocrine pancreas: about 10, so they keep the tissue profile).

    A host's cell mix varies between samples (a biopsy's Kupffer cells), and in a handful of samples it can
    follow the host fraction by chance: the line then reads the host's minor cell types at a share that is not
    theirs (on the simulated admixture-only null, seeds whose Kupffer share fell with ``f``, correlation about
    -0.4, got a Kupffer weight of 0.00-0.02 against 0.06-0.09, and the purified metastases of the worst four
    kept Kupffer reads that the table called up: 61-310 genes). ``deviations``, each sample's estimated
    cell-mix deviation (:func:`~target_rationale.admixture.adjust.cell_mix_deviation`: the split's Kupffer
    reads less their typical share at its fraction), enter the line as extra columns, so that the level at
    ``f = 1`` is the host's at its typical mix; they are left out when the line would then extrapolate beyond
    ``max_extrapolation`` or the design is singular. The calibration below does not take them: there the extra
    column cost the planted genes' ranking more than it gained (``benchmarks/admixture_null_calls.py``).

    Parameters
    ----------
    counts : numpy.ndarray
        Raw counts, samples x genes, of the samples carrying this host.
    library : numpy.ndarray
        Their reads on the genes the reference knows (what the fractions are shares of).
    fractions : numpy.ndarray
        Their host fractions.
    components : numpy.ndarray
        Profiles x genes: the reference profiles as shares of reads (:func:`reference_levels`), the tissue
        profile first.
    gene_sd : float
        The spread ``tau`` the first fit assumes.
    min_samples : int
        See above.
    max_extrapolation : float
        See above.
    deviations : numpy.ndarray, optional
        Samples x m cell-mix deviations (see above); default none.
    select : bool
        Whether the mix must beat the tissue profile (Akaike) to be kept; False for the make-up's bootstrap
        refits (:func:`~target_rationale.admixture.adjust.make_up_draws`), which measure the error of the mix
        the cohort chose, not whether a resample would choose it.

    Returns
    -------
    weights : numpy.ndarray
        Per profile, summing to 1; the tissue profile alone (1, 0, ...) when the samples cannot tell.
    spread : float
        ``tau``; NaN when the samples cannot tell.
    fitted : bool
        Whether the samples could be used.
    """
    weights = np.zeros(len(components))
    weights[0] = 1.0
    n = len(fractions)
    if n < min_samples or float(np.std(fractions)) < MIN_SPREAD:
        return weights, float("nan"), False
    y = counts / library[:, None]
    line = _host_line(y, fractions, deviations) if deviations is not None else None
    if line is None or line[2] > max_extrapolation ** 2:
        line = _host_line(y, fractions, None)
    if line is None or line[2] > max_extrapolation ** 2:
        return weights, float("nan"), False
    level, level_var, _ = line                         # the line at f = 1: the host's level, its variance
    use = np.isfinite(level) & np.isfinite(level_var) & (components.max(axis=0) > 0)
    if use.sum() < 10 * len(components):
        return weights, float("nan"), False
    a, b, v = components[:, use].T, level[use], level_var[use]
    tissue = a @ weights
    fit = _fit_weights(a, b, v, [weights, np.full(len(components), 1.0 / len(components))], gene_sd)
    if not np.all(np.isfinite(fit)):
        return weights, float("nan"), False
    spread, _ = _spread(b, v, a @ fit)
    fit = _fit_weights(a, b, v, [fit], spread)
    if not np.all(np.isfinite(fit)):
        return weights, float("nan"), False
    # the genes the likelihoods are compared on: those the host makes (at least 1 per million) by either model
    judged = (tissue >= MIN_LEVEL) | (a @ fit >= MIN_LEVEL)
    spread, nll = _spread(b[judged], v[judged], (a @ fit)[judged])
    _, nll_tissue = _spread(b[judged], v[judged], tissue[judged])
    # the mix must beat the tissue profile alone by more than its extra weights (Akaike) and fit at all
    if spread >= 3.0 - 1e-3 or select and nll + 2 * (np.count_nonzero(fit) - 1) >= nll_tissue:
        return weights, float("nan"), False
    return fit, spread, True


def calibrate_host_levels(counts: np.ndarray, library: np.ndarray, fractions: np.ndarray, prior: np.ndarray,
                          prior_sd: float, min_samples: int = 4, min_spread: float = MIN_SPREAD
                          ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per gene, a factor on the host's expected reads: 1 (the reference), corrected where the samples show
    otherwise.

    Within the samples of one host, ``count / library = (1 - f) x tumour + k x prior`` for every gene, with
    ``prior`` the sample's expected host share of the gene (:func:`sample_host_levels`); a least-squares fit
    over the samples gives the gene's factor ``k`` with a standard error ``se``, fitted against the host's
    typical level at each sample's fraction (:func:`typical_levels`), not against each sample's own: the
    samples' cell-mix deviations are estimates (the split's), and noise in a regressor pulls its coefficient
    towards 0 (on a simulated admixture-only null, the genes the host makes most of and the table called up got
    a median factor of 0.85 against a true 2.5; 2.2 fitted against the typical level). The caller applies the
    factor to the levels it uses (:func:`~target_rationale.admixture.adjust.purify_cohort`: the typical ones
    too). The factor used is the posterior
    mean of ``log k`` (on a grid of +-:data:`LOG_FACTOR_LIMIT`) under a heavy-tailed prior, ``log k ~ (1 - w)
    N(0, prior_sd^2) + w N(0, WIDE_SD^2)`` (``prior_sd``: the spread of a gene's level around the host's make-up;
    the wide component for the genes of a cell type the make-up misses, its share ``w`` fitted on the genes by
    maximum marginal likelihood within [:data:`MIN_WIDE_SHARE`, :data:`MAX_WIDE_SHARE`]), and the likelihood
    ``k_hat ~ N(k, se^2)`` on the linear scale, with its posterior sd: where ``se`` is large against ``k`` the
    likelihood is flat and the reference stands, with no threshold to pass and no winner's curse for the genes
    that would pass one by chance; where the samples show a gene far above its expected level, the wide component
    lets the factor follow them (a normal prior alone capped it near ``e^(6 prior_sd)``). Needs ``min_samples``
    samples whose host fractions have an sd of at least ``min_spread``: with fractions all near 0 (a configured
    host that is not there) there is nothing to calibrate on.

    Parameters
    ----------
    counts : numpy.ndarray
        Raw counts, samples x genes, of the samples carrying this host.
    library : numpy.ndarray
        Their reads on the genes the reference knows (what the fractions are shares of).
    fractions : numpy.ndarray
        Their host fractions.
    prior : numpy.ndarray
        Samples x genes, :func:`sample_host_levels`.
    prior_sd : float
        sd (log) of a real host's levels around the reference's.
    min_samples, min_spread : float
        When the samples can correct the reference (see above).

    Returns
    -------
    factor : numpy.ndarray
        Per gene, the factor on ``prior``.
    log_sd : numpy.ndarray
        Its uncertainty, sd in log (``prior_sd`` where the reference stands).
    fitted : bool
        Whether the samples could be used.
    """
    n_genes = counts.shape[1]
    factor, log_sd = np.ones(n_genes), np.full(n_genes, float(prior_sd))
    if len(fractions) < min_samples or not prior_sd > 0 or float(np.std(fractions)) < min_spread:
        return factor, log_sd, False
    a, b, y = (1 - fractions)[:, None], typical_levels(prior, fractions), counts / library[:, None]
    saa, sab, sbb = float((a ** 2).sum()), (a * b).sum(axis=0), (b ** 2).sum(axis=0)
    say, sby = (a * y).sum(axis=0), (b * y).sum(axis=0)
    det = saa * sbb - sab ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (saa * sby - sab * say) / det
        tumour = (sbb * say - sab * sby) / det
        residual = y - a * tumour - b * k
        sigma2 = (residual ** 2).sum(axis=0) / max(len(fractions) - 2, 1)
        se = np.sqrt(sigma2 * saa / det)
    usable = np.isfinite(k) & np.isfinite(se) & (se > 0) & (det > 1e-12 * saa * sbb)
    if usable.any():
        mean, sd = _posterior(k[usable], se[usable], float(prior_sd))
        factor[usable], log_sd[usable] = np.exp(mean), sd
    return factor, log_sd, True


def typical_levels(levels: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Each sample's host fraction times the host's typical level of each gene: the median over the samples of
    ``levels / f`` (samples with ``f > 0``; 0 where there are none).

    Parameters
    ----------
    levels : numpy.ndarray
        Samples x genes, each sample's expected host share of each gene
        (:func:`~target_rationale.admixture.adjust.sample_host_levels`).
    fractions : numpy.ndarray
        The samples' host fractions.

    Returns
    -------
    numpy.ndarray
        Samples x genes.
    """
    f = np.asarray(fractions, dtype=float)
    hosted = f > 0
    if not hosted.any():
        return np.zeros_like(levels, dtype=float)
    typical = np.median(levels[hosted] / f[hosted, None], axis=0)
    return f[:, None] * typical[None, :]


def _component_moments(k: np.ndarray, se: np.ndarray, grid: np.ndarray, densities: np.ndarray,
                       chunk: int = 4096) -> np.ndarray:
    """Per gene and prior component, the integrals of ``likelihood x density x (1, log k, log k^2)`` over the
    grid of ``log k`` (the likelihood ``k_hat ~ N(k, se^2)`` scaled by its largest value on the grid, one scale
    per gene): genes x components x 3. In chunks of genes, so memory stays near ``chunk x grid``."""
    out = np.empty((len(k), len(densities), 3))
    powers = np.vstack([np.ones_like(grid), grid, grid ** 2])        # 3 x grid
    weighted = densities[:, None, :] * powers[None, :, :]             # components x 3 x grid
    level = np.exp(grid)
    for start in range(0, len(k), chunk):
        part = slice(start, start + chunk)
        log_lik = -0.5 * ((level[None, :] - k[part, None]) / se[part, None]) ** 2
        lik = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
        out[part] = np.einsum("gx,cpx->gcp", lik, weighted)
    return out


def _posterior(k: np.ndarray, se: np.ndarray, prior_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd of ``log k`` per gene under the heavy-tailed prior of :func:`calibrate_host_levels`,
    its wide share fitted on these genes (EM on the marginal likelihood)."""
    grid = np.linspace(-LOG_FACTOR_LIMIT, LOG_FACTOR_LIMIT, GRID_POINTS)
    densities = np.vstack([np.exp(-0.5 * (grid / sd) ** 2) / sd for sd in (prior_sd, WIDE_SD)])
    moments = _component_moments(k, se, grid, densities)
    narrow, wide = moments[:, 0, 0], moments[:, 1, 0]
    share = 0.05
    for _ in range(200):
        wide_part = share * wide
        responsibility = wide_part / np.maximum((1 - share) * narrow + wide_part, 1e-300)
        updated = float(np.clip(responsibility.mean(), MIN_WIDE_SHARE, MAX_WIDE_SHARE))
        if abs(updated - share) < 1e-6:
            share = updated
            break
        share = updated
    mixed = (1 - share) * moments[:, 0, :] + share * moments[:, 1, :]    # genes x 3
    total = np.maximum(mixed[:, 0], 1e-300)
    mean = mixed[:, 1] / total
    return mean, np.sqrt(np.maximum(mixed[:, 2] / total - mean ** 2, 0.0))

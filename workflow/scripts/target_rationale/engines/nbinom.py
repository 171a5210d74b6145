"""Vectorised negative-binomial GLM inference for pydeseq2, with R DESeq2's rules: all genes at once.

pydeseq2 0.5.4 fits every gene separately (a Python-level IRLS loop, a scipy L-BFGS-B per dispersion and per
shrunken fold change) and farms genes out to joblib worker processes; on 20,000 genes x 12 samples that made
its fit about three times slower than R DESeq2 (see ``benchmarks/README.md``). :class:`VectorizedInference`
is a drop-in :class:`pydeseq2.inference.Inference` (``DeseqDataSet(..., inference=...)``) that solves the same
problems for a block of genes with array operations (one BLAS call builds every gene's ``X^T W X``), in a few
threads over blocks of genes:

* ``lin_reg_mu`` is pydeseq2's; ``irls`` is DESeq2's ``fitBeta`` (pydeseq2's updates with DESeq2's ridge,
  ``1e-6`` on log2 fold changes, and stopping rule: a deviance change below ``beta_tol`` after the first step,
  at most 100 steps); a gene whose IRLS diverges goes to DESeq2's optimiser fallback (:mod:`.glm_optim`),
  unless its counts above zero pin every coefficient: then to the likelihood's maximum, found by Newton's method
  with a line search (:func:`.glm_optim.newton_fit`), which is where R's optimiser goes when it gets there; and
  where the optimiser's end is clearly below a Newton search's from it, to the latter (see :mod:`.glm_optim`).
  ``wald_test`` is pydeseq2's with the means bounded at 0.5 in the weights, as DESeq2's standard errors have them.
* ``alpha_mle`` is DESeq2's dispersion search (:mod:`.dispersion_fit`: its Armijo line search in log dispersion,
  its grid where that does not settle, its rules around them), to DESeq2's precision rather than an exact
  optimum: DESeq2's trend, prior variance and refits read those estimates, so the same rule gives R's answer
  (gene-wise dispersions within 1e-10 of R's on the parity suite).
* ``lfc_shrink_nbinom_glm`` minimises the same apeGLM-style posterior by Newton's method with a backtracking
  line search (the Hessian shifted to positive definite where the Cauchy prior makes it indefinite) from
  the fit with a normal prior and, where that ends away from zero, also from that fit with the shrunken
  coefficient at zero, and keeps the lower minimum. Where the posterior has two modes (one near zero, one near the MLE),
  L-BFGS-B may stop in either; this takes the maximum a posteriori. Elsewhere the two agree to pydeseq2's
  tolerance (~0.01 in log2 fold change on highly expressed genes, where its relative stopping rule is
  loose). A gene that does not converge in 100 steps goes to pydeseq2's per-gene optimiser.

The inverse Hessians returned by ``lfc_shrink_nbinom_glm`` repeat pydeseq2's formula (whose prior term is
added to every row of the Hessian), so shrunken standard errors are pydeseq2's.

:class:`FastDeseqDataSet` fits the dispersion trend (:mod:`.dispersion_trend`, and :mod:`.local_trend` where the
parametric one fails; the VST keeps pydeseq2's own trend fit), its prior variance (:mod:`.dispersion_prior`) and the
MAP dispersions (started where DESeq2 starts them) as R DESeq2 1.38.3 does, where pydeseq2 0.5.4 differs;
``independent_filter.FastDeseqStats`` does DESeq2's independent filtering. Checked against R on eight design
shapes: ``tests/diffexp/test_parity.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import pandas as pd
from pydeseq2 import utils
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from scipy.special import expit, gammaln
from scipy.stats import norm

from target_rationale.engines.dispersion_fit import genewise_dispersions, map_dispersions
from target_rationale.engines.dispersion_prior import prior_variance
from target_rationale.engines.dispersion_trend import parametric_trend, trend_genes
from target_rationale.engines.glm_optim import (
    CLEARLY_HIGHER,
    LARGE,
    LFC_RIDGE,
    has_finite_maximum,
    newton_fit,
    optim_fit,
)
from target_rationale.engines.gram import gram, outer_rows
from target_rationale.engines.local_trend import fit_local_trend, predict_local_trend

#: Ridge added to ``X^T W X`` in IRLS: DESeq2's ``lambda`` on log2 fold changes (:data:`.glm_optim.LFC_RIDGE`), on
#: the natural-log scale of the coefficients (``1e-6 / log(2)^2``; pydeseq2 adds 1e-6).
RIDGE = LFC_RIDGE / np.log(2) ** 2
#: Elements (samples x genes) per block of genes: bounds the memory of the temporaries (~8 MB each).
BLOCK_ELEMENTS = 1 << 20
#: Blocks a transcriptome is cut into at least (when each keeps :data:`MIN_BLOCK_GENES`), so that up to this many
#: threads have work; fixed, not taken from the threads, so that the blocks and the results are the same for any.
PARALLEL_BLOCKS = 8
#: Fewest genes in a block cut for threads.
MIN_BLOCK_GENES = 1024
#: R's ``mad()`` constant (pydeseq2: ``1 / norm.ppf(0.75)`` = 1.48260222, which moves the prior variance by 2e-6).
R_MAD_CONSTANT = 1.4826
#: The least mean DESeq2 lets into its dispersion fits (``minmu``; pydeseq2 bounds only its least-squares means).
MIN_MU = 0.5


def _nb_nll(counts: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Negative log-likelihood of each gene (column), as pydeseq2's ``nb_nll`` with one dispersion per gene."""
    inverse = 1.0 / alpha
    n = counts.shape[0]
    log_binom = gammaln(counts + inverse) - gammaln(counts + 1.0) - gammaln(inverse)
    return n * inverse * np.log(alpha) + (-log_binom + (counts + inverse) * np.log(inverse + mu)
                                          - counts * np.log(mu)).sum(axis=0)


def _fallback_fit(counts: np.ndarray, sf: np.ndarray, design: np.ndarray, dispersion: float, initial: np.ndarray,
                  last: np.ndarray, max_beta: float) -> tuple[np.ndarray, bool]:
    """One gene whose IRLS diverged (natural-log coefficients, convergence; see :mod:`.glm_optim`): the
    likelihood's maximum where it has one; else DESeq2's optimiser from its start (the last IRLS step if in
    bounds), followed by a Newton search that replaces its end where clearly higher (its coefficients held within
    the optimiser's bounds: a runaway one may end just beyond them, where the likelihood is flat)."""
    if has_finite_maximum(counts, design):
        beta, found, _ = newton_fit(counts, sf, design, dispersion, initial, RIDGE)
        if found and (np.abs(beta) <= max_beta).all():
            return beta, True
    last = last / np.log(2.0)
    beta, converged = optim_fit(counts, sf, design, dispersion, last if (np.abs(last) < LARGE).all() else initial)
    climbed, found, gain = newton_fit(counts, sf, design, dispersion, beta, RIDGE)
    if gain > CLEARLY_HIGHER:  # within the optimiser's bounds, where a runaway coefficient may end
        return np.clip(climbed, -LARGE * np.log(2.0), LARGE * np.log(2.0)), found or converged
    return beta, converged


class VectorizedInference(DefaultInference):
    """pydeseq2's inference routines for blocks of genes at a time (see the module docstring).

    Parameters
    ----------
    n_cpus : int
        Threads, each working on its own block of genes (numpy and scipy release the GIL in these loops; keep
        BLAS at one thread per process).
    """

    def __init__(self, n_cpus: int = 1) -> None:
        super().__init__(n_cpus=n_cpus)

    # ---- plumbing ------------------------------------------------------------------------------------------

    def _blocks(self, n_genes: int, n_samples: int) -> list[slice]:
        """Blocks of genes, the same for any ``n_cpus``: threads only share them out, so the results do not
        depend on the cores a run is given (a block's shape changes the last bits of its array operations)."""
        size = max(64, BLOCK_ELEMENTS // max(n_samples, 1))
        size = max(min(size, max(MIN_BLOCK_GENES, -(-n_genes // PARALLEL_BLOCKS))), 1)
        return [slice(start, min(start + size, n_genes)) for start in range(0, n_genes, size)]

    def _map(self, work: Callable[[slice], tuple], n_genes: int, n_samples: int) -> list[tuple]:
        blocks = self._blocks(n_genes, n_samples)
        if self.n_cpus <= 1 or len(blocks) == 1:
            return [work(block) for block in blocks]
        with ThreadPoolExecutor(max_workers=self.n_cpus) as pool:
            return list(pool.map(work, blocks))

    # ---- means ---------------------------------------------------------------------------------------------

    def lin_reg_mu(self, counts: np.ndarray, size_factors: np.ndarray, design_matrix: np.ndarray,
                   min_mu: float) -> np.ndarray:
        """Least-squares means (pydeseq2: ``LinearRegression(fit_intercept=False)`` per gene), all genes at once."""
        normalised = counts / size_factors[:, None]
        beta = np.linalg.lstsq(design_matrix, normalised, rcond=None)[0]
        return np.maximum(size_factors[:, None] * (design_matrix @ beta), min_mu)

    def irls(self, counts: np.ndarray, size_factors: np.ndarray, design_matrix: np.ndarray, disp: np.ndarray,
             min_mu: float, beta_tol: float, min_beta: float = -30, max_beta: float = 30,
             optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B", maxiter: int = 100
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """pydeseq2's ``irls_solver`` for every gene, stopping as DESeq2's ``fitBeta`` does (deviance change
        below ``beta_tol`` after the first step; DESeq2's ridge and 100 steps); returns LFCs (genes x p), mu and
        hat diagonals (samples x genes) and convergence flags."""
        counts = np.asarray(counts, dtype=float)
        disp = np.asarray(disp, dtype=float)
        n, p = design_matrix.shape
        outer = outer_rows(design_matrix)
        if np.linalg.matrix_rank(design_matrix) == p:
            q, r = np.linalg.qr(design_matrix)
            start = np.linalg.solve(r, q.T)  # beta_init = R^-1 Q^T log(counts / sf + 0.1)
        else:
            start = None

        def work(block: slice) -> tuple:
            return self._irls_block(counts[:, block], size_factors, design_matrix, outer, disp[block], start,
                                    min_mu, beta_tol, min_beta, max_beta, optimizer, maxiter)

        parts = self._map(work, counts.shape[1], n)
        return (np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts], axis=1),
                np.concatenate([part[2] for part in parts], axis=1), np.concatenate([part[3] for part in parts]))

    @staticmethod
    def _irls_block(counts: np.ndarray, sf: np.ndarray, design: np.ndarray, outer: np.ndarray, disp: np.ndarray,
                    start: np.ndarray | None, min_mu: float, beta_tol: float, min_beta: float, max_beta: float,
                    optimizer: str, maxiter: int) -> tuple:
        n, p = design.shape
        genes = counts.shape[1]
        if start is not None:
            beta = (start @ np.log(counts / sf[:, None] + 0.1)).T
        else:
            beta = np.zeros((genes, p))
            beta[:, 0] = np.log(counts / sf[:, None]).mean(axis=0)
        ridge = RIDGE * np.eye(p)
        initial = beta.copy()
        beta_last = beta.copy()
        mu = np.maximum(sf[:, None] * np.exp(design @ beta.T), min_mu)
        dev = np.full(genes, 1000.0)
        active = np.ones(genes, dtype=bool)
        diverged = np.zeros(genes, dtype=bool)
        iteration = 0
        log_sf = np.log(sf)[:, None]
        while active.any():
            idx = np.flatnonzero(active)
            m, y, d = mu[:, idx], counts[:, idx], disp[idx]
            w = m / (1.0 + m * d)
            z = np.log(m) - log_sf + (y - m) / m
            xtwx = gram(w, outer, p) + ridge
            beta_hat = np.linalg.solve(xtwx, ((w * z).T @ design)[:, :, None])[:, :, 0]
            iteration += 1
            bad = (np.abs(beta_hat) > max_beta).any(axis=1) | (iteration >= maxiter)
            diverged[idx[bad]] = True
            beta_last[idx[bad]] = beta_hat[bad]
            active[idx[bad]] = False
            good, beta_good = idx[~bad], beta_hat[~bad]
            beta[good] = beta_good
            mu[:, good] = np.maximum(sf[:, None] * np.exp(design @ beta_good.T), min_mu)
            old = dev[good]
            dev[good] = -2.0 * _nb_nll(counts[:, good], mu[:, good], disp[good])
            ratio = np.abs(dev[good] - old) / (np.abs(dev[good]) + 0.1)
            if iteration > 1:  # DESeq2's fitBeta never stops at its first step
                active[good[ratio < beta_tol]] = False
        w = mu / (1.0 + mu * disp)
        inverse = np.linalg.inv(gram(w, outer, p) + ridge)
        hat = (inverse.reshape(genes, p * p) @ outer.T).T * w
        mu_out = sf[:, None] * np.exp(design @ beta.T)
        converged = np.ones(genes, dtype=bool)
        for g in np.flatnonzero(diverged):
            beta[g], converged[g] = _fallback_fit(counts[:, g], sf, design, disp[g], initial[g], beta_last[g],
                                                  max_beta)
            mu_out[:, g] = sf * np.exp(design @ beta[g])
            m = np.maximum(mu_out[:, g], min_mu)
            w_g = m / (1.0 + m * disp[g])
            inverse_g = np.linalg.inv((design.T * w_g) @ design + ridge)
            hat[:, g] = np.einsum("ij,jk,ik->i", design, inverse_g, design) * w_g
        return beta, mu_out, hat, converged

    # ---- dispersions ---------------------------------------------------------------------------------------

    def alpha_mle(self, counts: np.ndarray, design_matrix: np.ndarray, mu: np.ndarray, alpha_hat: np.ndarray,
                  min_disp: float, max_disp: float, prior_disp_var: float | None = None, cr_reg: bool = True,
                  prior_reg: bool = False, optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B"
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Dispersion of every gene as DESeq2 computes it (:mod:`.dispersion_fit`): gene-wise from the start
        ``alpha_hat``, or with ``prior_reg`` maximum a posteriori around ``alpha_hat`` (the trend; started there,
        as pydeseq2 does: :class:`FastDeseqDataSet` starts where DESeq2 does, see :meth:`map_dispersions`)."""
        if not cr_reg:
            raise ValueError("the vectorised engine fits Cox-Reid-adjusted dispersions only (as DESeq2)")
        if prior_reg and prior_disp_var is None:
            raise ValueError("Sigma_prior is required for prior regularization")
        if prior_reg:
            return self.map_dispersions(counts, design_matrix, mu, alpha_hat, alpha_hat, prior_disp_var,
                                        min_disp, max_disp)
        counts, alpha_hat = np.asarray(counts, dtype=float), np.asarray(alpha_hat, dtype=float)
        mu = np.maximum(np.asarray(mu, dtype=float), MIN_MU)

        def work(block: slice) -> tuple:
            return genewise_dispersions(counts[:, block], mu[:, block], design_matrix, alpha_hat[block], min_disp,
                                        max_disp)

        parts = self._map(work, counts.shape[1], counts.shape[0])
        return np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])

    def map_dispersions(self, counts: np.ndarray, design_matrix: np.ndarray, mu: np.ndarray, genewise: np.ndarray,
                        fitted: np.ndarray, prior_var: float, min_disp: float, max_disp: float
                        ) -> tuple[np.ndarray, np.ndarray]:
        """DESeq2's maximum a posteriori dispersions (:func:`.dispersion_fit.map_dispersions`) of every gene."""
        counts, genewise, fitted = (np.asarray(v, dtype=float) for v in (counts, genewise, fitted))
        mu = np.maximum(np.asarray(mu, dtype=float), MIN_MU)

        def work(block: slice) -> tuple:
            return map_dispersions(counts[:, block], mu[:, block], design_matrix, genewise[block], fitted[block],
                                   float(prior_var), min_disp, max_disp)

        parts = self._map(work, counts.shape[1], counts.shape[0])
        return np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])

    # ---- tests and shrinkage -------------------------------------------------------------------------------

    def wald_test(self, design_matrix: np.ndarray, disp: np.ndarray, lfc: np.ndarray, mu: np.ndarray,
                  ridge_factor: np.ndarray, contrast: np.ndarray, lfc_null: float,
                  alt_hypothesis: Literal["greaterAbs", "lessAbs", "greater", "less"] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """pydeseq2's ``wald_test`` for every gene: p-values, statistics, standard errors."""
        n, p = design_matrix.shape
        outer = outer_rows(design_matrix)
        lfc, mu, disp = np.asarray(lfc, dtype=float), np.asarray(mu, dtype=float), np.asarray(disp, dtype=float)
        contrast = np.asarray(contrast, dtype=float)

        def work(block: slice) -> tuple:
            m, d = np.maximum(mu[:, block], MIN_MU), disp[block]  # DESeq2's weights bound the mean, as in its fit
            se = np.full(m.shape[1], np.nan)
            ok = np.isfinite(m).all(axis=0) & np.isfinite(d)  # e.g. all-zero genes: NaN, as per gene
            xtwx = gram(m[:, ok] / (1.0 + m[:, ok] * d[ok]), outer, p)
            hc = np.linalg.inv(xtwx + ridge_factor) @ contrast
            se[ok] = np.sqrt(np.einsum("gi,gij,gj->g", hc, xtwx, hc))
            return (se,)

        se = np.concatenate([part[0] for part in self._map(work, lfc.shape[0], n)])
        scaled = (lfc - lfc_null) / se[:, None]

        def greater(null: float) -> tuple[np.ndarray, np.ndarray]:
            stat = np.fmax((lfc - null) / se[:, None], 0) @ contrast
            return stat, norm.sf(stat)

        def less(null: float) -> tuple[np.ndarray, np.ndarray]:
            stat = np.fmin((lfc - null) / se[:, None], 0) @ contrast
            return stat, norm.sf(np.abs(stat))

        if alt_hypothesis is None:
            stat = scaled @ contrast
            return 2 * norm.sf(np.abs(stat)), stat, se
        if alt_hypothesis == "greaterAbs":
            stat = (np.sign(lfc) * np.fmax((np.abs(lfc) - lfc_null) / se[:, None], 0)) @ contrast
            return 2 * norm.sf(np.abs(stat)), stat, se
        if alt_hypothesis == "greater":
            stat, pval = greater(lfc_null)
            return pval, stat, se
        if alt_hypothesis == "less":
            stat, pval = less(lfc_null)
            return pval, stat, se
        stat_above, p_above = greater(-abs(lfc_null))
        stat_below, p_below = less(abs(lfc_null))
        stat = np.where(np.abs(stat_below) < np.abs(stat_above), stat_below, stat_above)
        return np.maximum(p_above, p_below), stat, se

    def lfc_shrink_nbinom_glm(self, design_matrix: np.ndarray, counts: np.ndarray, size: np.ndarray,
                              offset: np.ndarray, prior_no_shrink_scale: float, prior_scale: float, optimizer: str,
                              shrink_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """pydeseq2's ``nbinomGLM`` (apeGLM-style MAP fold changes) for every gene."""
        counts = np.asarray(counts, dtype=float)
        size = np.asarray(size, dtype=float)
        offset = np.asarray(offset, dtype=float)

        def work(block: slice) -> tuple:
            return self._shrink_block(design_matrix, counts[:, block], size[block], offset, prior_no_shrink_scale,
                                      prior_scale, optimizer, shrink_index)

        parts = self._map(work, counts.shape[1], counts.shape[0])
        return (np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts]),
                np.concatenate([part[2] for part in parts]))

    @staticmethod
    def _shrink_block(design: np.ndarray, counts: np.ndarray, size: np.ndarray, offset: np.ndarray,
                      scale0: float, scale: float, optimizer: str, k: int) -> tuple:
        n, p = design.shape
        genes = counts.shape[1]
        outer = outer_rows(design)
        shrink = np.zeros(p)
        shrink[k] = 1.0
        keep = 1.0 - shrink
        log_size = np.log(size)

        def objective(beta: np.ndarray, cols: np.ndarray, cauchy: bool = True) -> np.ndarray:
            """pydeseq2's ``nbinomFn`` (or, without ``cauchy``, with the normal prior on every coefficient)."""
            eta = design @ beta.T  # samples x genes
            if cauchy:
                prior = ((beta * keep) ** 2).sum(axis=1) / (2 * scale0 ** 2) + np.log1p((beta[:, k] / scale) ** 2)
            else:
                prior = (beta ** 2).sum(axis=1) / (2 * scale0 ** 2)
            y = counts[:, cols]
            nll = (y * eta - (y + size[cols]) * np.logaddexp(eta + offset[:, None], log_size[cols])).sum(axis=0)
            return prior - nll

        def gradient_hessian(beta: np.ndarray, cols: np.ndarray, cauchy: bool = True, quirk: bool = False):
            """Gradient and Hessian of :func:`objective` (``quirk``: the Hessian as pydeseq2's ``ddf`` builds it)."""
            eta = design @ beta.T + offset[:, None]
            y, s = counts[:, cols], size[cols]
            q = expit(eta - log_size[cols])  # mu / (mu + size)
            residual = y - (y + s) * q
            frac = (y + s) * q * (1.0 - q)
            if cauchy:
                bk2 = beta[:, k] ** 2
                grad = beta * keep / scale0 ** 2 + 2 * beta * shrink / (scale ** 2 + bk2)[:, None]
                h_diag = keep / scale0 ** 2 + shrink * (2 * (scale ** 2 - bk2) / (scale ** 2 + bk2) ** 2)[:, None]
            else:
                grad = beta / scale0 ** 2
                h_diag = np.full((len(cols), p), 1 / scale0 ** 2)
            grad = grad - residual.T @ design
            hess = gram(frac, outer, p)
            if quirk:  # pydeseq2's ddf: `+ np.diag(h)` adds the prior diagonal to every row
                hess = hess + h_diag[:, None, :]
            else:
                hess = hess + h_diag[:, :, None] * np.eye(p)
            return grad, hess

        scale_const = np.maximum(objective(np.zeros((genes, p)), np.arange(genes)), 1.0)

        def newton(beta: np.ndarray, cols: np.ndarray, cauchy: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Damped Newton for genes ``cols`` from ``beta`` (len(cols) x p): minimiser, value, convergence."""
            beta = beta.copy()
            value = objective(beta, cols, cauchy)
            active = np.ones(len(cols), dtype=bool)
            converged = np.zeros(len(cols), dtype=bool)
            for _ in range(100):
                rows = np.flatnonzero(active)
                if not len(rows):
                    break
                grad, hess = gradient_hessian(beta[rows], cols[rows], cauchy)
                flat = np.abs(grad).max(axis=1) / scale_const[cols[rows]]
                done = flat <= 1e-9
                converged[rows[done]] = True
                active[rows[done]] = False
                rows, grad, hess, flat = rows[~done], grad[~done], hess[~done], flat[~done]
                if not len(rows):
                    break
                # shift the Hessian to positive definite where the Cauchy prior makes it indefinite
                size_h = np.abs(hess).max(axis=(1, 2))
                smallest = np.linalg.eigvalsh(hess)[:, 0] if cauchy else size_h
                shift = np.where(smallest > 1e-8 * size_h, 0.0, 1e-8 * size_h - smallest + 1e-12)
                direction = -np.linalg.solve(hess + shift[:, None, None] * np.eye(p), grad[:, :, None])[:, :, 0]
                slope = (grad * direction).sum(axis=1)
                t = np.ones(len(rows))
                base = value[rows]
                trial = beta[rows] + direction
                trial_value = objective(trial, cols[rows], cauchy)
                for _ in range(50):  # backtracking (Armijo)
                    short = ~(trial_value <= base + 1e-4 * t * slope)
                    if not short.any():
                        break
                    t[short] *= 0.5
                    trial[short] = beta[rows[short]] + t[short, None] * direction[short]
                    trial_value[short] = objective(trial[short], cols[rows[short]], cauchy)
                accepted = trial_value <= base
                beta[rows[accepted]], value[rows[accepted]] = trial[accepted], trial_value[accepted]
                # no progress possible: converged if nearly flat, else left to pydeseq2's optimiser
                stuck = ~accepted | (np.abs(t[:, None] * direction).max(axis=1) < 1e-13)
                converged[rows[stuck]] = flat[stuck] <= 1e-6
                active[rows[stuck]] = False
            return beta, value, converged

        # The posterior has at most two modes: near the MLE, and near zero where the Cauchy prior pulls
        # (L-BFGS-B from pydeseq2's start may stop in either). Fit with a normal prior on every coefficient
        # (convex; started from least squares on log counts), descend from there, and, for genes whose mode is
        # away from zero, also from there with the coefficient set to zero; keep the lower minimum.
        every = np.arange(genes)
        start = (np.linalg.pinv(design) @ (np.log(counts + 0.5) - offset[:, None])).T
        normal_fit = newton(start, every, cauchy=False)[0]
        beta, value, converged = newton(normal_fit, every, cauchy=True)
        away = np.flatnonzero(~converged | (np.abs(beta[:, k]) > scale))
        at_zero = normal_fit[away].copy()
        at_zero[:, k] = 0.0
        other, other_value, other_converged = newton(at_zero, away, cauchy=True)
        better = other_converged & (~converged[away] | (other_value < value[away]))
        beta[away[better]], value[away[better]], converged[away[better]] = other[better], other_value[better], True
        inverse = np.empty((genes, p, p))
        for g in np.flatnonzero(~converged):  # pydeseq2's own optimiser for the few that did not converge
            beta[g], inverse[g], converged[g] = utils.nbinomGLM(
                design_matrix=design, counts=counts[:, g], size=size[g], offset=offset,
                prior_no_shrink_scale=scale0, prior_scale=scale, optimizer=optimizer, shrink_index=k)
        done = np.flatnonzero(converged)
        if len(done):
            inverse[done] = np.linalg.inv(gradient_hessian(beta[done], done, quirk=True)[1])
        return beta, inverse, converged


def _deseq2_parametric_trend(dds) -> None:
    """DESeq2's parametric dispersion trend (:mod:`.dispersion_trend`) in place of pydeseq2's.

    The trend is fitted on the genes with a gene-wise dispersion above ``100 x min_disp``, by DESeq2's passes and
    R's GLM; where that fit fails, by DESeq2's local regression (:mod:`.local_trend`), with a warning.
    """
    if "genewise_dispersions" not in dds.var:
        dds.fit_genewise_dispersions()
    nonzero = dds.var["non_zero"].to_numpy(bool)
    genewise = dds.var["genewise_dispersions"].to_numpy(float)
    means = dds.var["_normed_means"].to_numpy(float)
    use = nonzero & trend_genes(genewise, dds.min_disp) & np.isfinite(1.0 / means)
    coeffs = parametric_trend(means[use], genewise[use]) if use.any() else None
    if coeffs is None:
        warnings.warn("The parametric dispersion trend was not well captured by y = a / x + b; a local regression "
                      "was fitted instead (as DESeq2 does).", UserWarning, stacklevel=2)
        dds.uns["disp_function_type"] = "local"
        dds.uns["local_trend"] = fit_local_trend(means[use], genewise[use], dds.min_disp)
    else:
        dds.uns["disp_function_type"] = "parametric"
        dds.uns["trend_coeffs"] = pd.Series(coeffs, index=["a0", "a1"])
    dds.var["fitted_dispersions"] = np.full(dds.n_vars, np.nan)
    dds.var.loc[dds.var["non_zero"], "fitted_dispersions"] = dds.disp_function(
        dds.var.loc[dds.var["non_zero"], "_normed_means"])


def _deseq2_dispersion_prior(dds) -> None:
    """DESeq2's prior variance of log dispersions (:mod:`.dispersion_prior`) in place of pydeseq2's.

    Sets ``uns["_squared_logres"]`` (the squared MAD of the log residuals of the genes with a gene-wise
    dispersion of at least ``100 x min_disp``, with R's constant 1.4826 where pydeseq2 has ``1 / qnorm(0.75)``)
    and ``uns["prior_disp_var"]``, which DESeq2 estimates by simulation at 1-3 residual degrees of freedom.
    """
    if "fitted_dispersions" not in dds.var:
        dds.fit_dispersion_trend()
    var = dds.var.loc[dds.non_zero_genes]
    residuals = np.log(var["genewise_dispersions"].to_numpy(float)) - np.log(var["fitted_dispersions"].to_numpy(float))
    above = var["genewise_dispersions"].to_numpy(float) >= 100 * dds.min_disp
    kept = residuals[above]
    dds.uns["_squared_logres"] = (R_MAD_CONSTANT * np.median(np.abs(kept - np.median(kept)))) ** 2
    df = dds.n_obs - dds.obsm["design_matrix"].shape[-1]
    dds.uns["prior_disp_var"] = np.float64(prior_variance(kept, df, dds.uns["_squared_logres"]))


class FastDeseqDataSet(DeseqDataSet):
    """pydeseq2's ``DeseqDataSet`` with DESeq2's dispersion trend (:func:`_deseq2_parametric_trend`) and prior
    variance (:func:`_deseq2_dispersion_prior`); pickles like the parent."""

    def _fit_parametric_dispersion_trend(self, vst: bool = False) -> None:
        if vst:  # pydeseq2's transform knows only a parametric or a mean trend: its fit, as it is
            super()._fit_parametric_dispersion_trend(vst=True)
        else:
            _deseq2_parametric_trend(self)

    def fit_dispersion_prior(self) -> None:
        _deseq2_dispersion_prior(self)

    def disp_function(self, x):
        """The trend's dispersion at mean normalised counts ``x`` (pydeseq2's, and DESeq2's local trend)."""
        if self.uns.get("disp_function_type") == "local":
            trend = self.uns["local_trend"]
            if trend is None:  # every gene-wise dispersion below 10 x min_disp: DESeq2's trend is min_disp
                return np.full(np.shape(x), self.min_disp)
            return predict_local_trend(trend, np.asarray(x, dtype=float))
        return super().disp_function(x)

    def _refit_without_outliers(self) -> None:
        """pydeseq2's refit of the genes whose Cook's outliers were replaced, by this class (so with DESeq2's
        dispersion steps, and any trend it fitted) on the same size factors, trend and prior variance."""
        if "replaced" not in self.var:
            self._replace_outliers()
        new_all_zeroes = (self.counts_to_refit.X == 0).all(axis=0)
        self.var["refitted"] = self.var["replaced"].copy()
        self.var.loc[self.var["refitted"], "refitted"] = ~new_all_zeroes
        self.new_all_zeroes_genes = self.counts_to_refit.var_names[new_all_zeroes]  # DeseqStats reads it
        if len(self.new_all_zeroes_genes):
            self.var.loc[self.new_all_zeroes_genes, "_normed_means"] = 0
            self.varm["LFC"].loc[self.new_all_zeroes_genes, :] = 0
        if self.var["refitted"].sum() == 0:
            return
        refit = self.counts_to_refit[:, ~new_all_zeroes].copy()
        sub = type(self)(counts=pd.DataFrame(refit.X, index=refit.obs_names, columns=refit.var_names),
                         metadata=self.obs, design=self.design, min_mu=self.min_mu, min_disp=self.min_disp,
                         max_disp=self.max_disp, refit_cooks=self.refit_cooks, min_replicates=self.min_replicates,
                         beta_tol=self.beta_tol, inference=self.inference, quiet=self.quiet)
        sub.obs["size_factors"] = refit.obs["size_factors"]
        sub.layers["normed_counts"] = sub.X / sub.obs["size_factors"].values[:, None]
        sub.fit_genewise_dispersions()
        for key in ("disp_function_type", "trend_coeffs", "mean_disp", "local_trend", "_squared_logres",
                    "prior_disp_var"):
            if key in self.uns:
                sub.uns[key] = self.uns[key]
        sub.var["_normed_means"] = sub.layers["normed_counts"].mean(axis=0)
        sub.var["fitted_dispersions"] = sub.disp_function(sub.var["_normed_means"])
        sub.fit_MAP_dispersions()
        sub.fit_LFC()
        refitted = self.var["refitted"]
        for column in ("_normed_means", "genewise_dispersions", "fitted_dispersions", "dispersions"):
            self.var.loc[refitted, column] = sub.var[column]
        self.varm["LFC"][refitted] = sub.varm["LFC"]
        self.layers["replace_cooks"] = self.layers["cooks"].copy()
        for col in np.flatnonzero(refitted):
            self.layers["replace_cooks"][self.obs["replaceable"], col] = 0.0

    def fit_MAP_dispersions(self) -> None:
        """pydeseq2's MAP step, started where DESeq2 starts it (the gene-wise estimate unless below a tenth of the
        trend) when the inference can (:meth:`VectorizedInference.map_dispersions`)."""
        if not isinstance(self.inference, VectorizedInference):
            super().fit_MAP_dispersions()
            return
        if "prior_disp_var" not in self.uns:
            self.fit_dispersion_prior()
        nonzero = self.var["non_zero"].to_numpy(bool)
        dispersions, converged = self.inference.map_dispersions(
            self.X[:, self.non_zero_idx], self.obsm["design_matrix"].values,
            self.layers["_mu_hat"][:, self.non_zero_idx],
            self.var.loc[nonzero, "genewise_dispersions"].to_numpy(float),
            self.var.loc[nonzero, "fitted_dispersions"].to_numpy(float), float(self.uns["prior_disp_var"]),
            self.min_disp, self.max_disp)
        self.var["MAP_dispersions"] = np.full(self.n_vars, np.nan)
        self.var.loc[nonzero, "MAP_dispersions"] = dispersions
        self.var["_MAP_converged"] = pd.array([pd.NA] * self.n_vars, dtype="boolean")
        self.var.loc[nonzero, "_MAP_converged"] = converged
        self.var["dispersions"] = self.var["MAP_dispersions"].copy()
        self.var["_outlier_genes"] = np.log(self.var["genewise_dispersions"]) > np.log(
            self.var["fitted_dispersions"]) + 2 * np.sqrt(self.uns["_squared_logres"])
        self.var.loc[self.var["_outlier_genes"], "dispersions"] = self.var.loc[self.var["_outlier_genes"],
                                                                               "genewise_dispersions"]
        if self.low_memory:
            del self.layers["_mu_hat"]

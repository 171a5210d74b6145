"""The mixture where it happens: a negative-binomial GLM with the host's reads added on the count scale, against
purification before DE (not a test).

From the repository root::

    python benchmarks/admixture_mixture_glm.py --seeds 5 --patients 10 --cores 2

Issue 15 asks to model the mixture where it happens: ``mu = s x tumour + e`` (``s`` the sample's size factor,
``tumour = exp(X beta)`` the tumour's level on the design, ``e`` the sample's expected host reads), fitted per gene
on the raw counts, instead of purifying the counts first. :func:`mixture_glm` fits that by Fisher scoring with
step halving on the negative-binomial likelihood (dispersion and size factors taken from the workflow's fit of the
purified counts; a ridge of ``RIDGE`` on ``beta`` for tumour levels at 0) and tests the site coefficient by Wald.
Unlike subtraction it leaves each count its whole noise (the host's reads are noise of the count, not of a
remainder) and a gene the host makes alone gets a wide interval instead of a clipped remainder.

Per seed, on both designs of :func:`make_admixture_cohort` (``admixture_null``: primaries and metastases differ
only by host tissue; ``admixture_planted``: EGFR, VEGFR and CSF1R axes up by log2 1 in the tumour part of
metastases), two host estimates:

* ``oracle``: each sample's true host fraction and profile (``admixture_oracle.host_profiles``); compared with
  subtracting the same reads before the workflow's DE (``admixture_ceiling.de_table``, no host adjustment);
* ``estimated``: the workflow's (results/qc/admixture.tsv, then
  :func:`~target_rationale.admixture.adjust.purify_cohort`'s expected host reads); compared with the workflow's own
  adjusted table (``admixture_purification.contrast_table``: Wald on the purified counts, host levels' error
  carried, host-dominated genes untested); and the GLM with the same two parts of the table
  (``estimated_glm_level``): each host level's error propagated through the fit (:func:`level_error_variance`)
  and the table's host-dominated genes untested.

Measured in ``liver_met_vs_primary``: on the planted design the AUC of ``|stat|`` of planted against null genes and
the ``stat`` of the axes' receptors; on the null, genes called up and down at padj < 0.1 (the GLM: Benjamini-Hochberg
over every fitted gene; the comparators: their own padj), the hypergeometric p of the frozen liver genes among the
200 highest ``stat``, and the mean ``stat`` in bins of the true host share of the metastases' reads (0 under a
calibrated null); and for the estimated host, its expected reads over the true ones in the metastases, summed
over the genes of each bin.
Writes ``benchmarks/results/admixture_mixture_glm.json`` (per-seed rows, means with 95% t intervals, shares with
Wilson intervals, commit, arguments).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import stats

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import admixture_calls as calls  # noqa: E402
import admixture_ceiling as ceiling  # noqa: E402
from admixture_oracle import run_true_host  # noqa: E402
from admixture_purification import contrast_table  # noqa: E402
from measured_commit import seed_parser, seed_rows, write_result  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.admixture.adjust import (  # noqa: E402
    HOST_LAYER,
    MAX_TRUE_SHARE,
    contrast_hosts,
    host_variance,
    purify_cohort,
    sd_column,
    specific_genes,
)
from target_rationale.core.schema import defaults  # noqa: E402
from target_rationale.core.stats import benjamini_hochberg  # noqa: E402
from target_rationale.diffexp.model import fit_model  # noqa: E402
from target_rationale.diffexp.settings import FitSettings  # noqa: E402

from simulate.host import shipped_host_reference  # noqa: E402

#: Ridge on the GLM's coefficients (a tumour level at 0 has no finite maximum).
RIDGE = 1e-4
#: Bins of the true host share of the metastases' reads of a gene.
SHARE_BINS = (0.0, 0.05, 0.2, 0.5, 0.8, 1.01)
GENES = ("EGFR", "KDR", "FLT1", "CSF1R")
DESIGNS = ("admixture_null", "admixture_planted")
VARIANTS = ("oracle_glm", "oracle_subtract", "estimated_glm", "estimated_glm_level", "estimated_workflow")


def nb_loglik(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Per gene, the negative-binomial log-likelihood of counts ``y`` at means ``mu`` (samples x genes), up to the
    terms that do not depend on ``mu``."""
    r = 1.0 / alpha[None, :]
    return (y * np.log(mu / (mu + r)) + r * np.log(r / (mu + r))).sum(axis=0)


def mixture_glm(y: np.ndarray, host: np.ndarray, size: np.ndarray, design: np.ndarray, alpha: np.ndarray,
                iterations: int = 50, start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per gene, ``beta`` maximising the negative-binomial likelihood of ``y ~ NB(size x exp(design beta) + host,
    alpha)`` (minus ``RIDGE / 2 |beta|^2``), by Fisher scoring with step halving, and the inverse of its Fisher
    information.

    Parameters
    ----------
    y, host : numpy.ndarray
        Raw counts and expected host reads, samples x genes.
    size : numpy.ndarray
        Size factors per sample.
    design : numpy.ndarray
        Samples x coefficients.
    alpha : numpy.ndarray
        Dispersion per gene.
    iterations : int
        Most Fisher-scoring steps.
    start : numpy.ndarray, optional
        Starting coefficients (coefficients x genes); by default least squares on the log of the counts less the
        host's reads.

    Returns
    -------
    beta : numpy.ndarray
        Coefficients x genes (natural log).
    covariance : numpy.ndarray
        Genes x coefficients x coefficients.
    """
    p = design.shape[1]
    ridge = RIDGE * np.eye(p)[None]
    if start is None:
        beta = np.linalg.lstsq(design, np.log((np.maximum(y - host, 0.0) + 0.5) / size[:, None]), rcond=None)[0]
    else:
        beta = np.array(start, dtype=float)

    def parts(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tumour = size[:, None] * np.exp(np.clip(design @ b, -30.0, 30.0))
        return tumour, tumour + host

    def objective(b: np.ndarray) -> np.ndarray:
        return nb_loglik(y, parts(b)[1], alpha) - 0.5 * RIDGE * (b ** 2).sum(axis=0)

    current = objective(beta)
    for _ in range(iterations):
        tumour, mu = parts(beta)
        variance = mu + alpha[None, :] * mu ** 2
        score = design.T @ (tumour * (y - mu) / variance) - RIDGE * beta
        information = np.einsum("ni,nj,ng->gij", design, design, tumour ** 2 / variance) + ridge
        step = np.linalg.solve(information, score.T[:, :, None])[:, :, 0].T
        scale = np.ones(y.shape[1])
        for _ in range(10):
            proposed = beta + step * scale
            value = objective(proposed)
            worse = value < current - 1e-9
            if not worse.any():
                break
            scale[worse] /= 2.0
        accept = value >= current - 1e-9
        beta = np.where(accept, proposed, beta)
        current = np.where(accept, value, current)
        if float(np.max(np.abs(step * scale))) < 1e-6:
            break
    tumour, mu = parts(beta)
    variance = mu + alpha[None, :] * mu ** 2
    information = np.einsum("ni,nj,ng->gij", design, design, tumour ** 2 / variance) + ridge
    return beta, np.linalg.inv(information)


#: Probabilists' Gauss-Hermite nodes and weights for a host level misjudged by ``exp(sd x node)``.
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(9)
WEIGHTS = WEIGHTS / WEIGHTS.sum()
#: Host share of a sample's fitted reads of a gene below which its level's error is not propagated (at most a
#: 1e-3 change of its log level for a factor of 2 on the host).
MIN_HOST_SHARE = 1e-3


def level_error_variance(y: np.ndarray, host: np.ndarray, size: np.ndarray, design: np.ndarray,
                         alpha: np.ndarray, beta: np.ndarray, hosts: list[tuple[np.ndarray, np.ndarray]]
                         ) -> np.ndarray:
    """Per gene, the mean square error of the last coefficient caused by the hosts' levels being misjudged.

    Each host's level of a gene is its estimate times ``exp(delta)``, ``delta ~ N(0, sd^2)`` (``sd`` the
    calibration's, :func:`~target_rationale.admixture.adjust.sd_column`), one ``delta`` for all the host's
    samples, independent between hosts. Per host and Gauss-Hermite node the GLM is refitted from ``beta`` with that
    host's reads scaled, and ``E[(beta_last(delta) - beta_last)^2]`` is summed over hosts: the propagation the
    workflow's table makes by :func:`~target_rationale.admixture.adjust.level_error_moment`, here through the fit
    itself. As there, a host's reads of a sample are capped at ``MAX_TRUE_SHARE`` of its fitted mean (the tumour
    makes some of the reads), never below the estimate.

    Parameters
    ----------
    y, host, size, design, alpha : numpy.ndarray
        As :func:`mixture_glm`.
    beta : numpy.ndarray
        :func:`mixture_glm`'s coefficients at the estimated host reads.
    hosts : list of (numpy.ndarray, numpy.ndarray)
        Per host, its samples (bool) and its per-gene level sd (log).

    Returns
    -------
    numpy.ndarray
        Per gene, the added variance of the last coefficient (natural log).
    """
    mu = size[:, None] * np.exp(np.clip(design @ beta, -30.0, 30.0)) + host
    cap = np.maximum(host, MAX_TRUE_SHARE * mu)
    extra = np.zeros(y.shape[1])
    for rows, sd in hosts:
        # only genes the host makes a visible part of: elsewhere the refits move nothing
        g = np.flatnonzero((np.asarray(sd) > 0) & ((host[rows] / mu[rows]).max(axis=0) > MIN_HOST_SHARE))
        for node, weight in zip(NODES, WEIGHTS):
            if node == 0.0 or not len(g):
                continue
            scaled = host[:, g].copy()
            scaled[rows] = np.minimum(scaled[rows] * np.exp(np.asarray(sd)[g][None, :] * node), cap[np.ix_(rows, g)])
            moved, _ = mixture_glm(y[:, g], scaled, size, design, alpha[g], start=beta[:, g])
            extra[g] += weight * (moved[-1] - beta[-1, g]) ** 2
    return extra


def glm_table(counts: np.ndarray, host: np.ndarray, purified: ad.AnnData, cores: int,
              level_error: bool = False, dominated: bool = False) -> pd.DataFrame:
    """The mixture GLM's Wald table of ``liver_met_vs_primary`` (``gene_id, log2FoldChange, lfcSE, stat, pvalue,
    padj``): size factors, dispersions, samples and genes from the workflow's fit of ``purified`` (design
    ``~ patient + site``); ``counts`` and ``host`` are samples x genes on ``purified``'s samples and genes.

    With ``level_error`` (``purified`` an adjusted cohort of :func:`purify_cohort`) the hosts' level errors are
    added to the site coefficient's variance (:func:`level_error_variance`); with ``dominated`` the genes the
    workflow's table marks host-dominated (``admixture.host_dominated``, the hosts' specific genes) are not tested
    (``stat``, ``pvalue``, ``padj`` NaN; Benjamini-Hochberg over the rest)."""
    settings = {**defaults("config", "diffexp"), "shrink": False}
    model = fit_model(purified, [ceiling.CONTRAST], FitSettings.from_config(settings), cores)
    rows = purified.obs_names.get_indexer(model.obs_names)
    cols = purified.var_names.get_indexer(model.var_names)
    sheet = purified.obs.loc[model.obs_names]
    patients = sorted(sheet["patient"].astype(str).unique())
    design = np.column_stack([np.ones(len(sheet)), *[(sheet["patient"].astype(str) == p).to_numpy(float)
                                                     for p in patients[1:]],
                              (sheet["site"].astype(str) == ceiling.CONTRAST.target).to_numpy(float)])
    y, reads = counts[np.ix_(rows, cols)], host[np.ix_(rows, cols)]
    size = np.asarray(model.obs["size_factors"], dtype=float)
    alpha = np.asarray(model.var["dispersions"], dtype=float)
    beta, covariance = mixture_glm(y, reads, size, design, alpha)
    variance = covariance[:, -1, -1]
    if level_error:
        named = sheet["host"].astype(str).to_numpy()
        hosts = [(named == h, purified.var[sd_column(h)].astype(float).fillna(0.0).to_numpy()[cols])
                 for h in sorted(set(named) - {""})]
        variance = variance + level_error_variance(y, reads, size, design, alpha, beta, hosts)
    lfc, se = beta[-1] / np.log(2.0), np.sqrt(variance) / np.log(2.0)
    table = pd.DataFrame({"gene_id": list(model.var_names), "log2FoldChange": lfc, "lfcSE": se, "stat": lfc / se})
    table["pvalue"] = 2.0 * stats.norm.sf(np.abs(table["stat"]))
    tested = np.ones(len(table), dtype=bool)
    if dominated:
        c = ceiling.CONTRAST
        sides = contrast_hosts(purified, sheet, c.variable, c.target, c.reference)
        _, marked = host_variance(pd.Index(table["gene_id"]), *sides, defaults("config", "admixture")[
            "host_dominated"], specific_genes(purified, list(sides)))
        tested = ~marked
        table.loc[marked, ["stat", "pvalue"]] = np.nan  # as the workflow's table: not ranked either
    table["padj"] = np.nan
    table.loc[tested, "padj"] = benjamini_hochberg(table.loc[tested, "pvalue"].to_numpy())
    return table


def binned(values: np.ndarray, share: np.ndarray) -> dict[str, float]:
    """Mean of ``values`` per bin of ``share`` (:data:`SHARE_BINS`)."""
    return {f"{lo:g}-{hi:g}": float(np.nanmean(values[(share >= lo) & (share < hi)]))
            for lo, hi in zip(SHARE_BINS[:-1], SHARE_BINS[1:])}


def measure(table: pd.DataFrame, planted: bool, out: Path, share: pd.Series, symbols: pd.Series,
            liver: set[str]) -> dict:
    """AUC and axis-gene stats (planted) or calls, liver p and binned stats (null) of one table."""
    table = table.drop(columns=["symbol"], errors="ignore").assign(symbol=lambda t: t["gene_id"].map(symbols))
    if planted:
        picked = table.set_index("symbol")
        return {"auc": calls.auc(table, pd.read_csv(out / "truth_genes.tsv", sep="\t")),
                **{f"{g}_stat": float(picked.loc[g, "stat"]) for g in GENES}}
    padj = pd.to_numeric(table["padj"], errors="coerce")
    lfc = pd.to_numeric(table["log2FoldChange"], errors="coerce")
    stat = pd.to_numeric(table["stat"], errors="coerce").to_numpy()
    return {"called_up": int(((padj < 0.1) & (lfc > 0)).sum()), "called_down": int(((padj < 0.1) & (lfc < 0)).sum()),
            "liver_p": calls.liver_top_p(table, liver)["liver_p"],
            "mean_stat_by_host_share": binned(stat, share.reindex(table["gene_id"]).to_numpy())}


def one_seed(seed: int, patients: int, cores: int, liver: set[str]) -> dict:
    """Both designs, both host estimates, the GLM and its comparator; one seed."""
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_mixture_glm_{seed}_"))
    row: dict[str, object] = {"seed": seed, "patients": patients}
    try:
        for design_name in DESIGNS:
            planted = design_name == "admixture_planted"
            out, run = run_true_host(design_name, patients, seed, folder, cores)
            cohort, x, symbols, share = run.cohort, run.counts, run.symbols, run.share
            oracle, metastases = run.reads, run.metastases
            subtracted = cohort.copy()
            subtracted.X = np.rint(np.maximum(x - oracle, 0.0)).astype(np.int64)
            estimated = purify_cohort(cohort, pd.read_csv(out / paths.result("admixture_table"), sep="\t"),
                                      shipped_host_reference())
            host = np.asarray(estimated.layers[HOST_LAYER], dtype=float)
            tables = {"oracle_glm": glm_table(x, oracle, subtracted, cores),
                      "oracle_subtract": ceiling.de_table(np.asarray(subtracted.X), cohort.obs, cohort.var_names,
                                                          cores, shrink=None if planted else False),
                      "estimated_glm": glm_table(x, host, estimated, cores),
                      "estimated_glm_level": glm_table(x, host, estimated, cores, level_error=True, dominated=True),
                      "estimated_workflow": contrast_table(estimated, cores)}
            result = {name: measure(t, planted, out, share, symbols, liver) for name, t in tables.items()}
            ratio = {}
            for lo, hi in zip(SHARE_BINS[:-1], SHARE_BINS[1:]):
                inside = np.ix_(metastases, (share.to_numpy() >= lo) & (share.to_numpy() < hi))
                ratio[f"{lo:g}-{hi:g}"] = float(host[inside].sum() / max(oracle[inside].sum(), 1e-9))
            result["host_reads_estimated_over_true"] = ratio
            row["planted" if planted else "null"] = result
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise_variant(planted: list[dict], null: list[dict]) -> dict:
    """Over seeds, one table's :func:`measure` rows: mean AUC and axis-gene stats (``planted``); mean calls, share
    of liver p > 0.05 and mean binned stats (``null``)."""
    return {"auc": calls.mean([p["auc"] for p in planted], 0.9),
            **{f"{g}_stat": calls.mean([p[f"{g}_stat"] for p in planted]) for g in GENES},
            "null_called_up": calls.mean([n["called_up"] for n in null]),
            "null_called_down": calls.mean([n["called_down"] for n in null]),
            "null_liver_p_above_0.05": calls.share([n["liver_p"] > 0.05 for n in null], 0.9),
            "null_mean_stat_by_host_share": {b: calls.mean([n["mean_stat_by_host_share"][b] for n in null])
                                             for b in null[0]["mean_stat_by_host_share"]}}


def summarise(rows: list[dict]) -> dict:
    """:func:`summarise_variant` per variant."""
    return {name: summarise_variant([r["planted"][name] for r in rows], [r["null"][name] for r in rows])
            for name in VARIANTS}


def main(argv: list[str] | None = None) -> int:
    args = seed_parser(__doc__, "admixture_mixture_glm.json", 5).parse_args(argv)
    warnings.simplefilter("ignore")  # pydeseq2's trend and numpy's empty bins, per fit
    liver = calls.read_liver_genes()
    rows = seed_rows(one_seed, args, liver)
    write_result("benchmarks/admixture_mixture_glm.py", args, summarise(rows), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

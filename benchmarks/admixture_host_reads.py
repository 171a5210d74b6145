"""Where the workflow's expected host reads go wrong: fractions, make-up or per-gene calibration (not a test).

From the repository root::

    python benchmarks/admixture_host_reads.py --seeds 5 --patients 10 --cores 2

The mixture GLM holds the admixture-only null with the true host reads and loses it with the workflow's
(``admixture_mixture_glm.json``: the workflow's are 0.77-0.80 of the true ones on genes the host makes 20-80% of).
This takes those reads apart. Per seed, an ``admixture_null`` cohort (:func:`make_admixture_cohort`) is run through
Snakemake to ``results/qc/admixture.tsv``; then :func:`~target_rationale.admixture.adjust.purify_cohort` gives the
expected host reads of each variant:

* ``workflow``: as the workflow computes them;
* ``true_fractions``: each sample's true host fraction (of the reads on the genes the reference knows) in place of
  the estimate;
* ``no_calibration``, ``true_fractions_no_calibration``: the per-gene calibration off (factor 1: the fitted make-up
  and the split's cell mix alone);
* ``least_squares``, ``true_fractions_least_squares``: the calibration's least-squares factor as it is, without
  its prior (unbiased given the gene's true level, noisy where the host makes little of a gene);
* ``posterior_mean``, ``true_fractions_posterior_mean``: the posterior mean of the factor (``E[k]``) in place of
  ``exp(E[log k])``, which is lower by Jensen's inequality where the factor is uncertain.

(``upward_posterior_mean``, the same with the prior's wide component on ``log k >= 0`` only, is a variant of
:func:`calibration` for ``admixture_calibration_calls.py``; not measured here.)

Measured: the metastases' estimated fractions over the true ones (median and range per seed), and for each variant
the expected host reads over the true ones (``admixture_oracle.host_profiles``), summed over the metastases and
the genes of each bin of the true host share of the metastases' reads (1 everywhere is right). Writes
``benchmarks/results/admixture_host_reads.json`` (per-seed rows, means with 95% t intervals, commit, arguments).
About 2 min per seed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import admixture_calls as calls  # noqa: E402
from admixture_oracle import run_true_host  # noqa: E402
from measured_commit import seed_parser, seed_rows, write_result  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.admixture import adjust, host_levels  # noqa: E402
from target_rationale.admixture.adjust import HOST_LAYER, mapped_genes, purify_cohort  # noqa: E402

from simulate.host import shipped_host_reference  # noqa: E402

SHARE_BINS = (0.0, 0.05, 0.2, 0.5, 0.8, 1.01)
DESIGN = "admixture_null"
#: Calibration variants: how the per-gene factor is taken from the calibration's least-squares fit.
CALIBRATIONS = ("workflow", "no_calibration", "least_squares", "posterior_mean")


def _no_calibration(counts, library, fractions, prior, prior_sd, **_):
    n = counts.shape[1]
    return np.ones(n), np.full(n, float(prior_sd)), False


def _least_squares(k: np.ndarray, se: np.ndarray, prior_sd: float) -> tuple[np.ndarray, np.ndarray]:
    return np.log(np.clip(k, 1e-4, None)), np.full(len(k), prior_sd)


def _posterior_mean(k: np.ndarray, se: np.ndarray, prior_sd: float, upward: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``log E[k]`` under the calibration's posterior (its grid, its two-component prior, its wide share fitted
    as it fits it); with ``upward``, the wide component on ``log k >= 0`` only (what it is for: genes of a cell
    type the make-up misses, far above their expected level), so that it does not drag factors towards 0."""
    grid = np.linspace(-host_levels.LOG_FACTOR_LIMIT, host_levels.LOG_FACTOR_LIMIT, host_levels.GRID_POINTS)
    densities = np.vstack([np.exp(-0.5 * (grid / sd) ** 2) / sd for sd in (prior_sd, host_levels.WIDE_SD)])
    if upward:
        densities[1] = np.where(grid >= 0, 2.0 * densities[1], 0.0)
    log_lik = -0.5 * ((np.exp(grid)[None, :] - k[:, None]) / se[:, None]) ** 2
    lik = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    narrow, wide = lik @ densities[0], lik @ densities[1]
    share = 0.05
    for _ in range(200):  # the wide share as _posterior fits it
        responsibility = share * wide / np.maximum((1 - share) * narrow + share * wide, 1e-300)
        updated = float(np.clip(responsibility.mean(), host_levels.MIN_WIDE_SHARE, host_levels.MAX_WIDE_SHARE))
        converged = abs(updated - share) < 1e-6
        share = updated
        if converged:
            break
    mixed = lik * ((1 - share) * densities[0] + share * densities[1])
    total = np.maximum(mixed.sum(axis=1), 1e-300)
    log_mean = (mixed * grid).sum(axis=1) / total
    sd = np.sqrt(np.maximum((mixed * grid ** 2).sum(axis=1) / total - log_mean ** 2, 0.0))
    return np.log((mixed * np.exp(grid)).sum(axis=1) / total), sd


def _typical_estimate(counts, library, fractions, prior, prior_sd, **options):
    """The calibration's factor fitted against the host's typical levels
    (:func:`~target_rationale.admixture.host_levels.typical_levels`: the cell-mix deviations, estimated per sample
    by the split, are noise in the regressor and pull the factor towards 0)."""
    return CALIBRATE(counts, library, fractions, host_levels.typical_levels(prior, fractions), prior_sd, **options)


def _typical_levels(cohort, table, reference, host, specs=adjust.HOSTS, baseline=None):
    """:func:`~target_rationale.admixture.adjust.sample_host_levels` at the host's typical levels."""
    levels = SAMPLE_LEVELS(cohort, table, reference, host, specs, baseline)
    fractions = pd.to_numeric(table["fraction"], errors="coerce").fillna(0.0).to_numpy()
    return host_levels.typical_levels(levels, fractions)


CALIBRATE, SAMPLE_LEVELS = adjust.calibrate_host_levels, adjust.sample_host_levels
#: Per variant, the attributes it replaces: (module, name, replacement). ``typical_estimate`` and ``typical_levels``
#: are measured against the workflow before e360fd8; since then the workflow's own calibration is ``typical_levels``.
PATCHES: dict[str, list[tuple[object, str, Callable]]] = {
    "no_calibration": [(adjust, "calibrate_host_levels", _no_calibration)],
    "least_squares": [(host_levels, "_posterior", _least_squares)],
    "posterior_mean": [(host_levels, "_posterior", _posterior_mean)],
    "upward_posterior_mean": [(host_levels, "_posterior",
                               lambda k, se, prior_sd: _posterior_mean(k, se, prior_sd, upward=True))],
    "typical_estimate": [(adjust, "calibrate_host_levels", _typical_estimate)],
    "typical_levels": [(adjust, "calibrate_host_levels", _typical_estimate),
                       (adjust, "sample_host_levels", _typical_levels)],
}


@contextmanager
def calibration(name: str):
    """The workflow's calibration replaced by the variant ``name`` while inside."""
    if name not in PATCHES:
        yield
        return
    originals = [(module, attribute, getattr(module, attribute)) for module, attribute, _ in PATCHES[name]]
    for module, attribute, replacement in PATCHES[name]:
        setattr(module, attribute, replacement)
    try:
        yield
    finally:
        for module, attribute, original in originals:
            setattr(module, attribute, original)


def ratios(estimated: np.ndarray, true: np.ndarray, metastases: np.ndarray, share: np.ndarray) -> dict[str, float]:
    """Estimated over true host reads of the metastases, summed over the genes of each bin of ``share``."""
    out = {}
    for lo, hi in zip(SHARE_BINS[:-1], SHARE_BINS[1:]):
        inside = np.ix_(metastases, (share >= lo) & (share < hi))
        out[f"{lo:g}-{hi:g}"] = float(estimated[inside].sum() / max(true[inside].sum(), 1e-9))
    return out


def one_seed(seed: int, patients: int, cores: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_host_reads_{seed}_"))
    try:
        out, run = run_true_host(DESIGN, patients, seed, folder, cores)
        cohort, x, truth, metastases = run.cohort, run.counts, run.truth, run.metastases
        true_reads, share = run.reads, run.share.to_numpy()
        table = pd.read_csv(out / paths.result("admixture_table"), sep="\t")
        reference = shipped_host_reference()
        keep, _, _ = mapped_genes(cohort, reference)
        # the true fraction of the reads on the genes the reference knows, what the workflow estimates
        true_fraction = pd.Series(truth["host_fraction"].to_numpy() * x.sum(axis=1) / x[:, keep].sum(axis=1),
                                  index=cohort.obs_names)
        oracle_table = table.copy()
        hosted = oracle_table["host"].fillna("").astype(str) != ""
        oracle_table.loc[hosted, "fraction"] = true_fraction.reindex(oracle_table.loc[hosted, "sample"]).to_numpy()
        estimated = pd.to_numeric(table.set_index("sample").loc[cohort.obs_names, "fraction"], errors="coerce")
        over = (estimated / true_fraction)[metastases].to_numpy()
        row: dict[str, object] = {"seed": seed, "patients": patients,
                                  "fraction_estimated_over_true": {"median": float(np.median(over)),
                                                                   "min": float(over.min()),
                                                                   "max": float(over.max())}}
        for name in CALIBRATIONS:
            for fractions, prefix in ((table, ""), (oracle_table, "true_fractions_")):
                with calibration(name):
                    reads = np.asarray(purify_cohort(cohort, fractions, reference).layers[HOST_LAYER], dtype=float)
                row[(prefix + name).removesuffix("_workflow")] = ratios(reads, true_reads, metastases, share)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise(rows: list[dict]) -> dict:
    variants = [k for k in rows[0] if k not in ("seed", "patients", "fraction_estimated_over_true")]
    summary = {"fraction_estimated_over_true_median": calls.mean(
        [r["fraction_estimated_over_true"]["median"] for r in rows])}
    for name in variants:
        summary[name] = {b: calls.mean([r[name][b] for r in rows]) for b in rows[0][name]}
    return summary


def main(argv: list[str] | None = None) -> int:
    args = seed_parser(__doc__, "admixture_host_reads.json", 5).parse_args(argv)
    warnings.simplefilter("ignore")
    rows = seed_rows(one_seed, args)
    write_result("benchmarks/admixture_host_reads.py", args, summarise(rows), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

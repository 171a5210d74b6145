"""How many GO BP terms the workflow's term test calls on null cohorts (issue 16; not a test).

From the repository root::

    python benchmarks/term_calibration.py --nulls 200
    python benchmarks/term_calibration.py --nulls 10 --out benchmarks/out/term_calibration.json

Each null cohort has ``n`` patients (4, 8, 12 or 20, in turn) with normal tissue, a primary and a liver
metastasis, negative-binomial counts (dispersions lognormal around 0.1, library sizes 15-40 M) over 6,000 genes
drawn from the shipped GO BP collection's members, and four programmes (stroma, vasculature, macrophages,
proliferation) that load on the members of a GO term each (``PROGRAMME_TERMS``) plus 150 random genes, with
per-sample activity of a patient part (sd 0.4 log2) and a biopsy part (sd 0.5 log2) that does not differ between
sites: correlated genes inside real terms, the structure that makes gene-permutation p-values anti-conservative.
The workflow's own code makes the calls: :func:`~diffexp.qc.qc_matrix` (the VST) and
:func:`~enrichment.term_tests.term_tests` (camera with the contrast's design ``~ patient + site``) on GO BP, terms
of 10-500 genes within the 6,000. Per contrast: the share of cohorts with 0, 1, 2+ terms at FDR < 0.05, with a
95% Wilson interval for "at most 1". Target (issue 16): at most 1 term at FDR < 0.05 in >= 90% of null cohorts.
Writes ``benchmarks/results/term_calibration.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from axis_calibration import CONTRASTS, SIZES, ci95  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale.diffexp.qc import qc_matrix  # noqa: E402
from target_rationale.enrichment.term_tests import term_tests  # noqa: E402
from target_rationale.genesets.gmt import read_gmt  # noqa: E402

GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"
#: GO terms whose members carry each programme (stroma, vasculature, macrophages, proliferation).
PROGRAMME_TERMS = ("GO:0030198", "GO:0002040", "GO:0042116", "GO:0007059")
N_GENES = 6000


def simulate(seed: int, patients: int, universe: list[str], members: dict[str, list[str]]) -> ad.AnnData:
    """One null cohort's counts over ``universe`` (samples x genes, ``var['symbol']``, ``obs`` patient, site)."""
    rng = np.random.default_rng(seed)
    symbols = list(rng.choice(universe, N_GENES, replace=False))
    for genes in members.values():  # the programmes' terms are always in
        symbols += [g for g in genes if g not in set(symbols)]
    position = {g: i for i, g in enumerate(symbols)}
    n_genes = len(symbols)
    log2_cpm = np.clip(rng.normal(3.0, 2.5, n_genes), -4, 12)
    dispersion = np.exp(rng.normal(np.log(0.1), 0.5, n_genes))
    rows = [(f"P{p}", site) for p in range(patients) for site in ("normal", "primary", "liver_metastasis")]
    obs = pd.DataFrame(rows, columns=["patient", "site"], index=[f"P{p}_{s}" for p, s in rows])
    log2_mean = np.tile(log2_cpm, (len(obs), 1)) + np.repeat(rng.normal(0, 0.2, (patients, n_genes)), 3, axis=0)
    for genes in members.values():
        loaded = [position[g] for g in genes] + list(rng.choice(n_genes, 150, replace=False))
        activity = np.repeat(rng.normal(0, 0.4, patients), 3) + rng.normal(0, 0.5, len(obs))
        log2_mean[:, loaded] += activity[:, None] * rng.uniform(0.3, 1.0, len(loaded))[None, :]
    proportions = 2.0 ** log2_mean
    proportions /= proportions.sum(axis=1, keepdims=True)
    mu = proportions * rng.uniform(15e6, 40e6, len(obs))[:, None]
    r = 1 / dispersion
    counts = rng.negative_binomial(r[None, :], r[None, :] / (r[None, :] + mu))
    return ad.AnnData(X=counts.astype(float), obs=obs,
                      var=pd.DataFrame({"symbol": symbols}, index=pd.Index(symbols, name="gene_id")))


def calls(cohort: ad.AnnData, sets: dict) -> list[dict]:
    """Terms at FDR < 0.05 per contrast (the workflow's VST and camera)."""
    qc = qc_matrix(cohort, set(), seed=0)
    de = pd.DataFrame({"gene_id": qc.var_names, "symbol": qc.var["symbol"].to_numpy(), "stat": 0.0})
    rows = []
    for contrast in CONTRASTS:
        table = term_tests(qc, qc.obs, de, sets, contrast, min_size=10, max_size=500)
        hits = table.loc[table["fdr"] < 0.05]
        rows.append({"contrast": contrast.name, "terms_tested": len(table), "terms_called": len(hits),
                     "called": hits["term_id"].head(10).tolist(),
                     "programme_terms_called": int(hits["term_id"].isin(PROGRAMME_TERMS).sum())})
    return rows


def summarise(rows: list[dict]) -> dict:
    table = pd.DataFrame(rows)
    summary = {}
    for contrast, group in table.groupby("contrast", sort=False):
        at_most_one = int((group["terms_called"] <= 1).sum())
        summary[contrast] = {"cohorts": len(group), "none": int((group["terms_called"] == 0).sum()),
                             "at_most_one": at_most_one, "share_at_most_one": round(at_most_one / len(group), 4),
                             "ci95": ci95(at_most_one, len(group)),
                             "mean_terms_called": round(float(group["terms_called"].mean()), 3),
                             "max_terms_called": int(group["terms_called"].max()),
                             "cohorts_calling_a_programme_term": int((group["programme_terms_called"] > 0).sum()),
                             "terms_tested_median": float(group["terms_tested"].median())}
        summary[contrast]["target_at_most_one_in_0.9"] = bool(at_most_one / len(group) >= 0.9)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nulls", type=int, default=200, help="null cohorts, spread over the sizes (default 200)")
    parser.add_argument("--out", type=Path, default=RESULTS / "term_calibration.json", help="the JSON written")
    args = parser.parse_args()
    logging.getLogger("target_rationale").setLevel(logging.WARNING)
    go = read_gmt(GO_BP)
    universe = sorted({g for s in go.values() for g in s.genes})
    members = {t: list(go[t].genes) for t in PROGRAMME_TERMS}
    rows, started = [], time.time()
    for i in range(args.nulls):
        seed, patients = 9000 + i, SIZES[i % len(SIZES)]
        for row in calls(simulate(seed, patients, universe, members), go):
            rows.append({"cohort": seed, "patients": patients, **row})
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{args.nulls} cohorts, {time.time() - started:.0f} s", flush=True)
    result = {"benchmark": "term_calibration", **measured_commit(), "arguments": vars(args) | {"out": str(args.out)},
              "wall_s": round(time.time() - started, 1), "summary": summarise(rows), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()

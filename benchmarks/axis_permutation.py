"""The axis flag on real-structure nulls: a cohort's own samples with the site labels permuted within each patient
(issue 16; not a test).

From the repository root, after a workflow run on the cohort (its variance-stabilised matrix is read)::

    python benchmarks/axis_permutation.py --qc results/qc/qc.h5ad --permutations 500
    python benchmarks/axis_permutation.py --qc results/qc/adjusted.h5ad --permutations 500   # host-adjusted VST

Each permutation shuffles the ``site`` labels among the samples of each patient (a patient's normal tissue,
primary and metastasis change places at random; patients and their between-patient structure, programmes and
dispersions stay as they are), then the workflow's own code makes the flags: :func:`~targets.axis_test.axis_tests`
(fry per contrast x axis, ``~ patient + site``) and :func:`~targets.flags.calibrated_flags` (Holm, effect floor)
at ``config/targets.yaml``'s rule, for the three contrasts of the pNEN design (``--normal`` names the normal
level). A site effect the cohort has is spread over all three labels by the permutation: what is left is the
cohort's real gene-gene and patient structure without a site difference. Per axis x contrast: the share of
permutations flagged, with a 95% Wilson interval, and the share of permutations with any flag. The host-tissue
adjustment's extra variance is not applied (it depends on the true sites' hosts). Writes
``benchmarks/results/axis_permutation.json``.
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

from intervals import wilson  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale.cohort.design import Contrast  # noqa: E402
from target_rationale.targets.axis_test import axis_tests  # noqa: E402
from target_rationale.targets.config import load_targets  # noqa: E402
from target_rationale.targets.flags import calibrated_flags  # noqa: E402


def permute_within(sheet: pd.DataFrame, rng: np.random.Generator, unit: str = "patient",
                   variable: str = "site") -> pd.DataFrame:
    """``sheet`` with ``variable`` shuffled among the rows of each ``unit``."""
    out = sheet.copy()
    labels = out[variable].astype(str).to_numpy().copy()
    for rows in out.groupby(unit, observed=True).indices.values():
        labels[rows] = rng.permutation(labels[rows])
    out[variable] = labels
    return out


def summarise(rows: pd.DataFrame) -> dict:
    """Per contrast x axis the share flagged with its Wilson interval, and the share of permutations with any."""
    n = rows["permutation"].nunique()
    cells = {}
    for (contrast, axis), block in rows.groupby(["contrast", "axis"], sort=False):
        k = int((block["flag"] != "none").sum())
        low, high = wilson(k, len(block))
        cells[f"{contrast}/{axis}"] = {"k": k, "n": len(block), "share": k / len(block), "ci95": [low, high]}
    flagged = rows.groupby("permutation")["flag"].apply(lambda f: (f != "none").any())
    k = int(flagged.sum())
    low, high = wilson(k, n)
    worst = max(cells.values(), key=lambda c: c["ci95"][1])
    return {"permutations": n, "cells": cells, "any_flag": {"k": k, "n": n, "share": k / n, "ci95": [low, high]},
            "worst_upper_bound": worst["ci95"][1], "target": "upper bound of every cell <= 0.05",
            "met": worst["ci95"][1] <= 0.05}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qc", type=Path, default=REPO / "results" / "qc" / "qc.h5ad",
                        help="the workflow's QC matrix (layer vst; obs patient and site)")
    parser.add_argument("--permutations", type=int, default=500, help="permutations (default 500)")
    parser.add_argument("--normal", default="normal_pancreas", help="the normal level of site")
    parser.add_argument("--seed", type=int, default=1, help="seed of the permutations")
    parser.add_argument("--out", type=Path, default=RESULTS / "axis_permutation.json", help="the JSON written")
    args = parser.parse_args()
    logging.getLogger("target_rationale").setLevel(logging.WARNING)
    qc = ad.read_h5ad(args.qc)
    targets = load_targets(REPO / "config" / "targets.yaml")
    axes = {name: list(axis.genes) for name, axis in targets.axes.items()}
    contrasts = [Contrast("primary_vs_normal", "site", "primary", args.normal, "~ patient + site"),
                 Contrast("liver_met_vs_normal", "site", "liver_metastasis", args.normal, "~ patient + site"),
                 Contrast("liver_met_vs_primary", "site", "liver_metastasis", "primary", "~ patient + site")]
    rng = np.random.default_rng(args.seed)
    started, blocks = time.time(), []
    for permutation in range(args.permutations):
        sheet = permute_within(qc.obs[["patient", "site"]], rng)
        flags = calibrated_flags(axis_tests(qc, sheet, contrasts, axes), targets.flag)
        blocks.append(flags[["contrast", "axis", "flag", "test_effect", "test_p"]].assign(permutation=permutation))
        if (permutation + 1) % 50 == 0:
            print(f"{permutation + 1}/{args.permutations} permutations, {time.time() - started:.0f} s", flush=True)
    rows = pd.concat(blocks, ignore_index=True)
    result = {"benchmark": "axis_permutation", **measured_commit(),
              "arguments": {k: str(v) for k, v in vars(args).items()}, "samples": int(qc.n_obs),
              "patients": int(qc.obs["patient"].nunique()), "wall_s": round(time.time() - started, 1),
              "summary": summarise(rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"]["any_flag"]), "worst upper bound", result["summary"]["worst_upper_bound"])


if __name__ == "__main__":
    main()

"""Operating characteristics of the axis flag (issue 16): false-positive rate and power over many simulated
cohorts (not a test).

From the repository root::

    python benchmarks/axis_calibration.py --nulls 500 --planted 40
    python benchmarks/axis_calibration.py --nulls 20 --planted 4 --out benchmarks/out/axis_calibration.json
    python benchmarks/axis_calibration.py --nulls 0 --planted 200 --sizes 8 --effects 0.6 0.7 0.8 0.9 \
        --out benchmarks/results/axis_power_8_patients.json    # where 80% power is reached at 8 patients

Each cohort has ``n`` patients with normal tissue, a primary and a liver metastasis. Counts are negative binomial
(dispersions lognormal around 0.1, as in real tumours; library sizes 15-40 M) over 2,500 background genes and the
axes' genes of ``config/targets.yaml``. Inter-gene correlation comes from four programmes (stroma, vasculature,
macrophages, proliferation), each loading on 150 background genes and on one axis' genes (FGFR, VEGFR, CSF1R,
EGFR), whose per-sample activity has a patient part (sd 0.4 log2) and a biopsy part (sd 0.5 log2) and does not
differ between sites: the patient-to-patient and biopsy-to-biopsy variation that makes preranked gene-set
p-values anti-conservative. The workflow's own code then makes the flags: :func:`~diffexp.qc.qc_matrix` (the VST),
:func:`~targets.axis_test.axis_tests` (fry per contrast x axis, ``~ patient + site``) and
:func:`~targets.flags.calibrated_flags` (Holm over axes x contrasts, effect floor) at the schema's defaults.

* null cohorts (``--nulls``, spread over 4, 8, 12 and 20 patients): per axis x contrast the share flagged, with a
  95% Wilson interval, and the share of cohorts with any flag;
* planted cohorts (``--planted`` per cell): one axis (rotating over the four) up by ``effect`` (log2; per gene
  N(effect, 0.2)) in the metastases' tumour, at 4, 8, 12 and 20 patients and effects 0.5 and 1.0: the share
  flagged up in ``liver_met_vs_normal`` and in ``liver_met_vs_primary`` (power), and the share of cohorts where
  another axis is flagged.

Target (issue 16): the upper bound of every axis FPR interval <= 5%. Writes ``benchmarks/results/
axis_calibration.json`` (summary, commit, arguments, and the per-cohort rows column-wise with ``test_p`` to 4
significant digits, to keep the file small).
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
from target_rationale.diffexp.qc import qc_matrix  # noqa: E402
from target_rationale.targets.axis_test import axis_tests  # noqa: E402
from target_rationale.targets.config import load_targets  # noqa: E402
from target_rationale.targets.flags import calibrated_flags  # noqa: E402

CONTRASTS = [Contrast("primary_vs_normal", "site", "primary", "normal", "~ patient + site"),
             Contrast("liver_met_vs_normal", "site", "liver_metastasis", "normal", "~ patient + site"),
             Contrast("liver_met_vs_primary", "site", "liver_metastasis", "primary", "~ patient + site")]
#: Programme of each axis (the axis' genes load on it).
PROGRAMMES = {"FGFR": "stroma", "VEGFR": "vasculature", "CSF1R": "macrophages", "EGFR": "proliferation"}
SIZES = (4, 8, 12, 20)
EFFECTS = (0.5, 1.0)
N_BACKGROUND = 2500


def simulate(seed: int, patients: int, axes: dict[str, list[str]], planted: str | None = None,
             effect: float = 0.0) -> ad.AnnData:
    """One cohort's counts (samples x genes, ``var['symbol']``, ``obs`` patient and site); see the module text."""
    rng = np.random.default_rng(seed)
    axis_symbols = list(dict.fromkeys(g for genes in axes.values() for g in genes))
    symbols = axis_symbols + [f"BG{i}" for i in range(N_BACKGROUND)]
    n_genes = len(symbols)
    log2_cpm = np.clip(rng.normal(3.0, 2.5, n_genes), -4, 12)
    dispersion = np.exp(rng.normal(np.log(0.1), 0.5, n_genes))
    rows = [(f"P{p}", site) for p in range(patients) for site in ("normal", "primary", "liver_metastasis")]
    obs = pd.DataFrame(rows, columns=["patient", "site"], index=[f"P{p}_{s}" for p, s in rows])
    log2_mean = np.tile(log2_cpm, (len(obs), 1))
    log2_mean += np.repeat(rng.normal(0, 0.2, (patients, n_genes)), 3, axis=0)  # patient baseline
    for axis, programme in PROGRAMMES.items():
        members = [symbols.index(g) for g in axes.get(axis, [])]
        members += list(len(axis_symbols) + rng.choice(N_BACKGROUND, 150, replace=False))
        loading = rng.uniform(0.3, 1.0, len(members))
        activity = np.repeat(rng.normal(0, 0.4, patients), 3) + rng.normal(0, 0.5, len(obs))
        log2_mean[:, members] += activity[:, None] * loading[None, :]
    if planted is not None:
        genes = [symbols.index(g) for g in axes[planted]]
        metastases = (obs["site"] == "liver_metastasis").to_numpy()
        log2_mean[np.ix_(metastases, genes)] += rng.normal(effect, 0.2, len(genes))[None, :]
    library = rng.uniform(15e6, 40e6, len(obs))
    proportions = 2.0 ** log2_mean
    proportions /= proportions.sum(axis=1, keepdims=True)
    mu = proportions * library[:, None]
    r = 1 / dispersion
    counts = rng.negative_binomial(r[None, :], r[None, :] / (r[None, :] + mu))
    return ad.AnnData(X=counts.astype(float), obs=obs,
                      var=pd.DataFrame({"symbol": symbols}, index=pd.Index(symbols, name="gene_id")))


def flags_of(cohort: ad.AnnData, axes: dict[str, list[str]]) -> pd.DataFrame:
    """The workflow's flags of one cohort (VST, fry per contrast x axis, Holm, effect floor)."""
    qc = qc_matrix(cohort, set(), seed=0)
    return calibrated_flags(axis_tests(qc, qc.obs, CONTRASTS, axes))


def ci95(k: int, n: int) -> list[float]:
    """The Wilson interval rounded to 4 decimals."""
    return [round(x, 4) for x in wilson(k, n)]


def summarise(rows: list[dict]) -> dict:
    table = pd.DataFrame(rows)
    summary: dict = {"null": {}, "planted": {}}
    null = table.loc[table["kind"] == "null"]
    for (contrast, axis), group in null.groupby(["contrast", "axis"], sort=False):
        k, n = int((group["flag"] != "none").sum()), len(group)
        summary["null"][f"{contrast}/{axis}"] = {"flagged": k, "cohorts": n, "fpr": round(k / n, 4),
                                                 "ci95": ci95(k, n)}
    per_cohort = null.groupby("cohort")["flag"].apply(lambda f: (f != "none").any())
    summary["null"]["any_flag"] = {"cohorts": int(len(per_cohort)), "with_a_flag": int(per_cohort.sum()),
                                   "ci95": ci95(int(per_cohort.sum()), int(len(per_cohort)))}
    worst = max((v["ci95"][1] for k, v in summary["null"].items() if k != "any_flag"), default=float("nan"))
    summary["null"]["target_upper_fpr_le_0.05"] = {"worst_upper_bound": worst, "met": bool(worst <= 0.05)}
    planted = table.loc[table["kind"] == "planted"]
    for (patients, effect), group in planted.groupby(["patients", "effect"]):
        cell = {}
        for contrast in ("liver_met_vs_normal", "liver_met_vs_primary"):
            hits = group.loc[(group["contrast"] == contrast) & (group["axis"] == group["planted"])]
            k, n = int((hits["flag"] == "up").sum()), len(hits)
            cell[contrast] = {"power": round(k / n, 4) if n else None, "ci95": ci95(k, n), "cohorts": n}
        others = group.loc[group["axis"] != group["planted"]].groupby("cohort")["flag"].apply(
            lambda f: (f != "none").any())
        cell["another_axis_flagged"] = {"cohorts": int(others.sum()), "of": int(len(others))}
        summary["planted"][f"{patients}_patients_effect_{effect}"] = cell
    at8 = [e for e in sorted(planted["effect"].unique()) if summary["planted"].get(f"8_patients_effect_{e}", {})
           .get("liver_met_vs_primary", {}).get("power") is not None
           and summary["planted"][f"8_patients_effect_{e}"]["liver_met_vs_primary"]["power"] >= 0.8]
    summary["smallest_effect_with_80pct_power_at_8_patients_met_vs_primary"] = min(at8) if at8 else None
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nulls", type=int, default=500, help="null cohorts, spread over the sizes (default 500)")
    parser.add_argument("--planted", type=int, default=40, help="planted cohorts per size x effect (default 40)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="patients of planted cohorts")
    parser.add_argument("--effects", type=float, nargs="+", default=list(EFFECTS), help="planted log2 effects")
    parser.add_argument("--out", type=Path, default=RESULTS / "axis_calibration.json", help="the JSON written")
    args = parser.parse_args()
    logging.getLogger("target_rationale").setLevel(logging.WARNING)
    targets = load_targets(REPO / "config" / "targets.yaml")
    axes = {name: list(axis.genes) for name, axis in targets.axes.items()}
    rows: list[dict] = []
    started = time.time()
    jobs = [("null", 1000 + i, SIZES[i % len(SIZES)], None, 0.0) for i in range(args.nulls)]
    names = list(axes)
    jobs += [("planted", 5000 + 100 * j + i, size, names[i % len(names)], effect)
             for j, (size, effect) in enumerate((s, e) for s in args.sizes for e in args.effects)
             for i in range(args.planted)]
    for k, (kind, seed, patients, planted, effect) in enumerate(jobs):
        flags = flags_of(simulate(seed, patients, axes, planted, effect), axes)
        for row in flags.itertuples():
            rows.append({"kind": kind, "cohort": seed, "patients": patients, "planted": planted or "",
                         "effect": effect, "contrast": row.contrast, "axis": row.axis, "flag": row.flag,
                         "test_effect": round(float(row.test_effect), 4), "test_p": float(row.test_p)})
        if (k + 1) % 25 == 0:
            print(f"{k + 1}/{len(jobs)} cohorts, {time.time() - started:.0f} s", flush=True)
    columns = list(rows[0]) if rows else []
    compact = [[float(f"{r[c]:.4g}") if c == "test_p" else r[c] for c in columns] for r in rows]
    result = {"benchmark": "axis_calibration", **measured_commit(), "arguments": vars(args) | {"out": str(args.out)},
              "wall_s": round(time.time() - started, 1), "summary": summarise(rows),
              "rows": {"columns": columns, "data": compact}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, separators=(",", ":")) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()

"""Patient-level calls on simulated cohorts (issue 18; not a test): the activity rules' false-active rates and
sensitivities (the normal rule, and the cohort rule on the same tumours as if there were no normal tissue), the
prevalence interval's coverage, as called and corrected for the measured rates, and the power and null rates of
the association and survival models, each with a 95% Wilson interval over the cohorts.

From the repository root::

    python benchmarks/patient_calls.py --cohorts 200 --patients 70

Each cohort has ``--patients`` patients with a normal sample, a primary and a liver metastasis. One axis score
per sample: a patient effect (sd 0.4, shared by the patient's samples) + noise (sd 0.5). Planted variant: each
tumour is active with the cohort's share (drawn 0.1-0.5 per cohort, independently in primaries and
metastases), an active tumour's score raised by a shift drawn per cohort (0.75-2.5: about 1.2 to 4 sd of a
normal sample's score); a per-patient serum flag more common where the metastasis is active (60% vs 20%);
survival times exponential with hazard 0.1, times 3 when the primary is active (the sample the survival model
takes per patient), censored uniformly over 0-20. Null variant: no tumour active, the flag at 30% for everyone,
no hazard difference. The workflow's own code makes every call (``patients.activity``, ``.prevalence``,
``.associations``, ``.survival``) at the schema's settings. Writes ``benchmarks/results/patient_calls.json``.

Scores are simulated directly, not made from counts: what this measures is the rules and models given scores,
not the scores themselves (the axis-test benchmarks cover those).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from intervals import wilson  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale.patients.activity import activity_table  # noqa: E402
from target_rationale.patients.associations import association_table  # noqa: E402
from target_rationale.patients.prevalence import corrected_share, prevalence_table  # noqa: E402
from target_rationale.patients.settings import Layout, PatientSettings  # noqa: E402
from target_rationale.patients.survival import cox_per_sd, survival_data  # noqa: E402

WHERE = Layout("site", "primary", "liver_metastasis", "normal")
SITES = ("normal", "primary", "liver_metastasis")


def simulate(seed: int, patients: int, planted: bool) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Scores (samples x ``EGFR``), the sheet (``patient, site, high_glycosylation, months, dead``) and the truth."""
    rng = np.random.default_rng(seed)
    share = float(rng.uniform(0.1, 0.5)) if planted else 0.0
    shift = float(rng.uniform(0.75, 2.5)) if planted else 0.0
    rows, truth_active = [], {}
    for p in range(patients):
        patient, effect = f"p{p}", rng.normal(0, 0.4)
        active = {site: bool(site != "normal" and rng.random() < share) for site in SITES}
        flag = rng.random() < ((0.6 if active["liver_metastasis"] else 0.2) if planted else 0.3)
        hazard = 0.1 * (3.0 if planted and active["primary"] else 1.0)
        event_time, censor = rng.exponential(1 / hazard), rng.uniform(0, 20)
        for site in SITES:
            sample = f"{patient}_{site}"
            truth_active[sample] = active[site]
            rows.append({"sample": sample, "patient": patient, "site": site,
                         "high_glycosylation": "yes" if flag else "no", "months": min(event_time, censor),
                         "dead": int(event_time <= censor),
                         "EGFR": effect + rng.normal(0, 0.5) + shift * active[site]})
    frame = pd.DataFrame(rows).set_index("sample")
    return frame[["EGFR"]], frame.drop(columns="EGFR"), {"share": share, "shift": shift, "active": truth_active}


def one_cohort(seed: int, patients: int, planted: bool, settings: PatientSettings) -> dict:
    """The calls on one simulated cohort, against its truth; the cohort rule's calls on the same tumours
    (``cohort_*``: as if the cohort had no normal tissue)."""
    scores, sheet, truth = simulate(seed, patients, planted)
    activity = activity_table(scores, sheet, WHERE, settings, seed)
    called = activity.set_index("sample")["active"].astype(bool)
    true = pd.Series(truth["active"]).loc[called.index]
    by_cohort = activity_table(scores, sheet, WHERE, replace(settings, activity="cohort"), seed)
    cohort_called = by_cohort.set_index("sample")["active"].astype("boolean").fillna(False).astype(bool)
    cohort_true = pd.Series(truth["active"]).loc[cohort_called.index]
    prevalence = prevalence_table(activity, WHERE).set_index("site").loc["all_tumours"]
    association = association_table(scores, sheet, WHERE, ["high_glycosylation"]).iloc[0]
    cox = cox_per_sd(survival_data(activity, sheet, "months", "dead", ["primary", "liver_metastasis"]))
    return {"seed": seed, "planted_share": truth["share"], "shift": truth["shift"],
            "tumours": int(len(called)), "true_active": int(true.sum()), "called_active": int(called.sum()),
            "false_active": int((called & ~true).sum()), "true_inactive": int((~true).sum()),
            "hits": int((called & true).sum()),
            "cohort_called_active": int(cohort_called.sum()), "cohort_false_active": int((cohort_called
                                                                                          & ~cohort_true).sum()),
            "cohort_hits": int((cohort_called & cohort_true).sum()),
            "covers": bool(prevalence["ci_low"] <= truth["share"] <= prevalence["ci_high"]),
            "association_p": float(association["p"]), "association_effect": float(association["effect"]),
            "hr": float(cox["hr_per_sd"]), "cox_p": float(cox["p"]), "events": int(cox["events"])}


def rate(k: int, n: int) -> dict:
    return {"k": int(k), "n": int(n), "share": k / n if n else None, "ci95": wilson(k, n)}


def summarise(planted: pd.DataFrame, null: pd.DataFrame) -> dict:
    """The rates over the cohorts (pooled over tumours for the activity rule)."""
    sensitivity_by_shift = {}
    for low, high in ((0.75, 1.25), (1.25, 1.75), (1.75, 2.5)):
        part = planted.loc[(planted["shift"] >= low) & (planted["shift"] < high)]
        sensitivity_by_shift[f"{low}-{high}"] = rate(part["hits"].sum(), part["true_active"].sum())
    false_active = null["false_active"].sum() / null["true_inactive"].sum()
    sensitivity = planted["hits"].sum() / planted["true_active"].sum()
    covered = 0
    for row in planted.itertuples():
        low, high = wilson(row.called_active, row.tumours)
        bounds = [corrected_share(b, false_active, sensitivity) for b in (low, high)]
        covered += bounds[0] <= row.planted_share <= bounds[1]
    return {
        "null_false_active": rate(null["false_active"].sum(), null["true_inactive"].sum()),
        "cohort_rule_null_false_active": rate(null["cohort_false_active"].sum(), null["true_inactive"].sum()),
        "cohort_rule_null_any_active": rate((null["cohort_called_active"] > 0).sum(), len(null)),
        "cohort_rule_planted_false_active": rate(planted["cohort_false_active"].sum(),
                                                 planted["true_inactive"].sum()),
        "cohort_rule_sensitivity": rate(planted["cohort_hits"].sum(), planted["true_active"].sum()),
        "planted_false_active": rate(planted["false_active"].sum(), planted["true_inactive"].sum()),
        "sensitivity": rate(planted["hits"].sum(), planted["true_active"].sum()),
        "sensitivity_by_shift": sensitivity_by_shift,
        "prevalence_interval_covers_planted_share": rate(planted["covers"].sum(), len(planted)),
        "prevalence_called_over_planted": float(planted["called_active"].sum() / planted["true_active"].sum()),
        "corrected_interval_covers_planted_share": {
            **rate(covered, len(planted)),
            "note": "Wilson bounds corrected (Rogan-Gladen) with the pooled rates measured here: false-active "
                    f"{false_active:.4f} (null cohorts), sensitivity {sensitivity:.4f} (planted cohorts)"},
        "association_planted_significant_positive": rate(
            ((planted["association_p"] < 0.05) & (planted["association_effect"] > 0)).sum(), len(planted)),
        "association_null_significant": rate((null["association_p"] < 0.05).sum(), len(null)),
        "survival_planted_significant_hr_above_1": rate(((planted["cox_p"] < 0.05) & (planted["hr"] > 1)).sum(),
                                                        len(planted)),
        "survival_null_significant": rate((null["cox_p"] < 0.05).sum(), len(null)),
        "median_events": float(planted["events"].median()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cohorts", type=int, default=200, help="simulated cohorts per variant")
    parser.add_argument("--patients", type=int, default=30, help="patients per cohort")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "patient_calls.json", help="the JSON written")
    args = parser.parse_args()
    settings = PatientSettings.from_config()
    started = time.time()
    rows = {True: [], False: []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(args.cohorts):
            for planted in (True, False):
                rows[planted].append(one_cohort(args.first_seed + i, args.patients, planted, settings))
            if (i + 1) % 50 == 0:
                print(f"{i + 1}/{args.cohorts} cohorts, {time.time() - started:.0f} s", flush=True)
    planted, null = pd.DataFrame(rows[True]), pd.DataFrame(rows[False])
    result = {"benchmark": "patient_calls", **measured_commit(),
              "arguments": {k: str(v) for k, v in vars(args).items()},
              "settings": vars(settings), "wall_s": round(time.time() - started, 1),
              "summary": summarise(planted, null),
              "cohorts": {"planted": planted.to_dict("records"), "null": null.to_dict("records")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()

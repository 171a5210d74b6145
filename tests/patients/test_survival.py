"""Survival by axis (``patients.survival``, lifelines): a planted hazard found per SD of the score with its null
twin, one sample per patient in the configured site order, underpowered analyses said to be so, and one-line
problems for survival columns the sheet cannot give."""

from __future__ import annotations

import numpy as np
import pandas as pd
from simulated import survival_cohort
from target_rationale.patients.settings import survival_problems
from target_rationale.patients.survival import cox_per_sd, survival_data


def test_planted_hazard_is_found_and_its_null_twin_is_not() -> None:
    """Seed 1, 60 patients, active axis (40%, score +2 sd) with hazard ratio 4. Over seeds 0-39 (run by hand):
    p < 0.05 in 80% of planted cohorts and 2.5% of null twins."""
    planted = cox_per_sd(survival_cohort(1, 4.0))
    assert planted["hr_per_sd"] > 1.3 and planted["ci_low"] > 1 and planted["p"] < 0.01
    assert planted["n"] == 60 and planted["events"] >= 40 and planted["note"] == "" and 0 <= planted["ph_p"] <= 1
    null = cox_per_sd(survival_cohort(1, 1.0))
    assert null["p"] > 0.05 and null["ci_low"] < 1 < null["ci_high"]
    few = cox_per_sd(survival_cohort(1, 4.0, patients=12))
    assert few["events"] < 10 and few["note"].startswith("underpowered")


def test_one_sample_stands_for_each_patient_in_site_order() -> None:
    activity = pd.DataFrame({"sample": ["a_p", "a_m", "b_m", "c_p"], "patient": ["a", "a", "b", "c"],
                             "site": ["primary", "metastasis", "metastasis", "primary"], "axis": "EGFR",
                             "score": [1.0, 2.0, 3.0, 4.0], "active": [False, True, True, True]})
    sheet = pd.DataFrame({"months": [10, 10, 5, ""], "dead": [1, 1, 0, 1]}, index=activity["sample"])
    data = survival_data(activity, sheet, "months", "dead", ["primary", "metastasis"])
    assert data["sample"].tolist() == ["a_p", "b_m"]  # c has no time: left out
    assert survival_data(activity, sheet, "months", "dead", ["metastasis", "primary"])["sample"].tolist() == \
        ["a_m", "b_m"]


def test_survival_problems_name_the_column_the_sample_and_the_fix() -> None:
    sheet = pd.DataFrame({"months": ["12", "", "x"], "dead": ["1", "2", ""]}, index=["s1", "s2", "s3"])
    problems = survival_problems(sheet, {"time": "months", "event": "dead"}, "samples.tsv")
    assert problems == [
        "samples file 'samples.tsv', column 'months': sample 's3' has 'x'; give a number, or leave the cell empty "
        "where unknown (1 such row(s))",
        "samples file 'samples.tsv', column 'dead': sample 's2' has '2'; give 1 (event) or 0 (censored), or leave "
        "the cell empty where unknown (1 such row(s))"]
    assert survival_problems(sheet, {"time": "os", "event": "dead"}, "samples.tsv")[0].startswith(
        "config: patients.survival.time names column 'os', which samples file 'samples.tsv' lacks")
    assert survival_problems(sheet, None, "samples.tsv") == []
    paired = pd.DataFrame({"patient": ["P1", "P1", "P2", "P2"], "months": ["21.2", "99.9", "5", ""],
                           "dead": ["1", "1", "0", "0"]}, index=["a", "b", "c", "d"])
    assert survival_problems(paired, {"time": "months", "event": "dead"}, "samples.tsv") == [
        "samples file 'samples.tsv', column 'months': patient 'P1' has '21.2' and '99.9' on its samples; a "
        "patient's survival is one value: give the same on each of its samples (or leave all but one empty)"]
    paired.loc["b", "months"] = "21.2"  # the same value twice, and a cell left empty (P2): fine
    assert survival_problems(paired, {"time": "months", "event": "dead"}, "samples.tsv") == []
    assert np.isnan(cox_per_sd(pd.DataFrame({"score": [1.0, 1.0], "time": [1, 2], "event": [0, 0]}))["p"])

"""Associations of axis scores with covariates (``patients.associations``): a planted serum-flag effect found with
its sign and size through the patient random intercept, its null twin and an unrelated numeric covariate not
called, and one-line problems for columns the sheet cannot give."""

from __future__ import annotations

import pandas as pd
import pytest
from simulated import covariate_cohort
from target_rationale.patients.associations import association_table, encode
from target_rationale.patients.settings import Layout, covariate_kind, covariate_problems

WHERE = Layout("site", "primary", "liver_metastasis", "normal")
COVARIATES = ["high_glycosylation", "ca19_9"]


def associations(seed: int, effect: float) -> pd.DataFrame:
    cohort = covariate_cohort(seed, effect)
    return association_table(cohort[["EGFR"]], cohort.drop(columns="EGFR"), WHERE, COVARIATES).set_index("covariate")


def test_planted_flag_effect_is_found_and_its_null_twin_is_not() -> None:
    """Seed 1, 30 patients x (primary, metastasis), EGFR +1.0 in flag-positive patients. Over seeds 0-99 (run by
    hand): the planted effect at padj < 0.05 with a positive sign in 94; the null twin's flag at p < 0.05 in 10
    (the benchmark measures this rate over more cohorts)."""
    planted = associations(1, 1.0)
    flag = planted.loc["high_glycosylation"]
    assert (flag["method"], flag["n"], flag["n_patients"], flag["contrast"]) == ("mixedlm", 60, 30, "yes vs no")
    assert flag["effect"] == pytest.approx(1.0, abs=0.35) and flag["ci_low"] > 0 and flag["padj"] < 0.05
    ca199 = planted.loc["ca19_9"]
    assert ca199["contrast"] == "per SD" and ca199["n"] < 60 and ca199["padj"] >= 0.05  # missing cells left out
    null = associations(1, 0.0)
    assert null.loc["high_glycosylation", "padj"] >= 0.05
    assert null.loc["high_glycosylation", "ci_low"] < 0 < null.loc["high_glycosylation", "ci_high"]


def test_without_repeated_patients_it_is_ordinary_least_squares() -> None:
    cohort = covariate_cohort(2, 1.0)
    metastases = cohort.loc[cohort["site"] == "liver_metastasis"]
    table = association_table(metastases[["EGFR"]], metastases.drop(columns="EGFR"), WHERE, ["high_glycosylation"])
    assert table.loc[0, "method"] == "ols" and table.loc[0, "n"] == 30


def test_covariate_kinds_encoding_and_problems() -> None:
    assert covariate_kind(pd.Series(["yes", "no", None])) == "binary"
    assert covariate_kind(pd.Series([1.5, 2.0, 7.0])) == "numeric"
    assert covariate_kind(pd.Series(["G1", "G2", "G3"])) == "other"
    assert covariate_kind(pd.Series(["no", None, "no"])) == "constant"
    values, meaning = encode(pd.Series(["no", "yes", "yes", None]))
    assert meaning == "yes vs no" and values.tolist()[:3] == [0.0, 1.0, 1.0] and pd.isna(values.iloc[3])
    values, meaning = encode(pd.Series([1.0, 2.0, 3.0]))
    assert meaning == "per SD" and values.tolist() == pytest.approx([-1.0, 0.0, 1.0])
    sheet = pd.DataFrame({"grade": ["G1", "G2", "G3"], "flag": ["yes", "", "no"], "same": ["no", "no", ""]})
    problems = covariate_problems(sheet, ["flag", "grade", "ki67", "same"], "samples.tsv")
    assert problems == [
        "config: patients.covariates: column 'grade' of samples file 'samples.tsv' is neither numeric nor "
        "two-level; give numbers or two values (e.g. yes / no) per sample, empty where unknown",
        "config: patients.covariates names column 'ki67', which samples file 'samples.tsv' lacks (columns: grade, "
        "flag, same); add it or remove it from the list",
        "config: patients.covariates: column 'same' of samples file 'samples.tsv' has fewer than two different "
        "values; nothing to compare: fill it in or remove it from the list"]

"""The patient stage in the workflow: sheet columns it cannot use stop the run before any job, one line each,
with the inputs untouched; a valid configuration plans the patient jobs."""

from __future__ import annotations

import pytest
from conftest import Cohort, input_errors, run_workflow, stopped_before_any_job


@pytest.mark.workflow
def test_patient_columns_the_sheet_cannot_give_stop_the_run_before_any_job(cohort: Cohort) -> None:
    cohort.sheet["months"] = ["12", "", "30", "x", "", "4", "", "", "7", "", "", "9"]
    cohort.sheet["dead"] = ["1", "", "0", "1", "", "1", "", "", "2", "", "", "0"]
    cohort.sheet["grade"] = ["", "G1", "G2", "", "G3", "G2", "", "G1", "G1", "", "G2", "G2"]
    cohort.config["patients"] = {"covariates": ["grade", "ki67"], "survival": {"time": "months", "event": "dead"}}
    assert stopped_before_any_job(cohort) == [
        "Input error: config: patients.covariates: column 'grade' of samples file 'samples.tsv' is neither numeric "
        "nor two-level; give numbers or two values (e.g. yes / no) per sample, empty where unknown",
        "Input error: config: patients.covariates names column 'ki67', which samples file 'samples.tsv' lacks "
        "(columns: patient, site, batch, months, dead, grade); add it or remove it from the list",
        "Input error: samples file 'samples.tsv', column 'months': sample 'P2_normal' has 'x'; give a number, or "
        "leave the cell empty where unknown (1 such row(s))",
        "Input error: samples file 'samples.tsv', column 'dead': sample 'P3_liver_met' has '2'; give 1 (event) or 0 "
        "(censored), or leave the cell empty where unknown (1 such row(s))"]

    cohort.sheet.loc[3, "months"], cohort.sheet.loc[8, "dead"] = "18", "1"
    cohort.write()  # a patient's samples that disagree on survival stop the run too
    lines = input_errors(run_workflow(cohort.folder, cohort.config_path, "-n"))
    assert "Input error: samples file 'samples.tsv', column 'months': patient 'P1' has '12' and '30' on its " \
           "samples; a patient's survival is one value: give the same on each of its samples (or leave all but " \
           "one empty)" in lines, lines
    cohort.sheet.loc[2, "months"], cohort.sheet.loc[5, "months"], cohort.sheet.loc[2, "dead"] = "12", "18", "1"
    cohort.config["patients"] = {"covariates": ["batch"], "survival": {"time": "months", "event": "dead"}}
    cohort.write()
    planned = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "rule patients:" in planned.stdout and "rule patient_plots:" in planned.stdout

"""Prevalence with Wilson intervals and per-patient changes (``patients.prevalence``), and the readable summary
(``patients.outputs``), on a hand-made activity table."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from target_rationale.core.stats import wilson
from target_rationale.patients.outputs import summary_markdown
from target_rationale.patients.prevalence import (
    corrected_share,
    patient_changes,
    prevalence_table,
    transitions_summary,
)
from target_rationale.patients.settings import Layout, PatientSettings

WHERE = Layout("site", "primary", "liver_metastasis", "normal")


def activity() -> pd.DataFrame:
    """Four patients with a primary and a metastasis (p1: gains EGFR, p2: active in both, p3: neither, p4: loses
    it), one metastasis without its primary, one tumour without a call."""
    rows = [("p1", "primary", 0.1, False), ("p1", "liver_metastasis", 1.5, True),
            ("p2", "primary", 1.2, True), ("p2", "liver_metastasis", 1.4, True),
            ("p3", "primary", 0.0, False), ("p3", "liver_metastasis", 0.2, False),
            ("p4", "primary", 1.1, True), ("p4", "liver_metastasis", 0.3, False),
            ("p5", "liver_metastasis", 2.0, True), ("p6", "primary", np.nan, pd.NA)]
    return pd.DataFrame([{"sample": f"{p}_{s}", "patient": p, "site": s, "axis": "EGFR", "score": v,
                          "threshold": 1.0, "rule": "normal", "active": a} for p, s, v, a in rows]
                        ).astype({"active": "boolean"})


def test_prevalence_per_site_with_wilson_intervals_and_the_published_share_beside_it() -> None:
    table = prevalence_table(activity(), WHERE, {"EGFR": (0.212, "IHC")}).set_index("site")
    assert table.loc["liver_metastasis", ["n_active", "n"]].tolist() == [3, 5]
    assert table.loc["primary", ["n_active", "n"]].tolist() == [2, 4]  # p6 has no call: left out
    assert table.loc["all_tumours", ["n_active", "n"]].tolist() == [5, 9]
    assert table.loc["all_tumours", ["ci_low", "ci_high"]].tolist() == pytest.approx(list(wilson(5, 9)))
    assert (table["reference_share"] == 0.212).all() and (table["reference_source"] == "IHC").all()


def test_corrected_share_undoes_known_error_rates_by_hand() -> None:
    """Rogan-Gladen by hand: 30% called with 5% false actives and 80% sensitivity is (0.30 - 0.05) / (0.80 -
    0.05) = 1/3 truly active; a called share below the false-active rate is 0, not negative; no rate known,
    nothing corrected."""
    assert corrected_share(0.30, 0.05, 0.80) == pytest.approx(1 / 3)
    assert corrected_share(0.30, 0.05, None) == pytest.approx(0.25 / 0.95)  # sensitivity taken as 1
    assert corrected_share(0.02, 0.05, 0.80) == 0.0
    assert corrected_share(0.95, 0.05, 0.80) == 1.0  # above what the rates allow: clipped
    assert np.isnan(corrected_share(0.30, None, 0.80)) and np.isnan(corrected_share(0.30, 0.5, 0.4))
    table = prevalence_table(activity(), WHERE, false_active=0.05, sensitivity=0.8).set_index("site")
    low, high = wilson(5, 9)
    assert table.loc["all_tumours", ["share_corrected", "corrected_ci_low", "corrected_ci_high"]].tolist() == \
        pytest.approx([(5 / 9 - 0.05) / 0.75, (low - 0.05) / 0.75, min((high - 0.05) / 0.75, 1.0)])
    plain = prevalence_table(activity(), WHERE)
    assert plain["share_corrected"].isna().all()
    text = summary_markdown(table.reset_index(), transitions_summary(patient_changes(activity(), WHERE)), "normal",
                            PatientSettings.from_config({"rule_rates": {"false_active": 0.05, "sensitivity": 0.8}}),
                            14)
    assert "Corrected for a false-active rate of 5% and a sensitivity of 80% (Rogan-Gladen)" in text
    assert f"EGFR {100 * (5 / 9 - 0.05) / 0.75:.0f}%" in text
    assert "not corrected for the rule's error rates" in summary_markdown(
        plain, transitions_summary(patient_changes(activity(), WHERE)), "normal", PatientSettings.from_config(), 14)


def test_per_patient_change_with_its_noise_interval_and_the_transitions() -> None:
    changes = patient_changes(activity(), WHERE, {"EGFR": 0.2}).set_index("patient")
    assert list(changes.index) == ["p1", "p2", "p3", "p4"]  # p5 and p6 lack a site
    assert changes["transition"].tolist() == ["gained", "stays_active", "stays_inactive", "lost"]
    half = 1.959964 * np.sqrt(2) * 0.2
    assert changes.loc["p1", "change"] == pytest.approx(1.4)
    assert changes.loc["p1", ["ci_low", "ci_high"]].tolist() == pytest.approx([1.4 - half, 1.4 + half])
    summary = transitions_summary(changes.reset_index()).iloc[0]
    assert summary[["n_patients", "gained", "lost", "stays_active", "stays_inactive"]].tolist() == [4, 1, 1, 1, 1]
    assert (summary["up_beyond_noise"], summary["down_beyond_noise"]) == (1, 1)  # p1 up 1.4, p4 down 0.8
    no_patients = activity().assign(patient=pd.NA)
    assert patient_changes(no_patients, WHERE).empty


def test_summary_states_the_rule_the_shares_and_the_transitions() -> None:
    prevalence = prevalence_table(activity(), WHERE, {"EGFR": (0.212, "EGFR IHC, Xiao et al. 2023")})
    transitions = transitions_summary(patient_changes(activity(), WHERE, {"EGFR": 0.2}))
    text = summary_markdown(prevalence, transitions, "normal", PatientSettings.from_config(), 14)
    assert "tolerance bound of the 14 normal-tissue samples" in text
    assert ("- EGFR: active in 3/5 liver metastasis (60%, 95% CI 23%-88%); 2/4 primary (50%, 95% CI 15%-85%); "
            "5/9 all tumours (56%") in text
    assert "published share 21% (EGFR IHC, Xiao et al. 2023), printed for reading, not compared" in text
    assert "- EGFR: 4 patients; gained activity in 1, lost it in 1, active in both 1, in neither 1" in text


@pytest.mark.parametrize(("module", "absent"), [
    ("target_rationale.planning", "'target_rationale.patients.plots', 'matplotlib', 'statsmodels', 'lifelines', "
                                  "'sklearn'"),
    ("target_rationale.patients.outputs", "'target_rationale.patients.plots', 'matplotlib'"),
], ids=["planning: no model library", "computing: no figures"])
def test_planning_stays_light_and_computing_never_loads_the_figures(module: str, absent: str) -> None:
    """Planning (before any job) checks the patient columns without the model libraries; the patient job's
    computing code does not load the plotting module or matplotlib."""
    code = f"import sys\nimport {module}\nprint(sorted(m for m in ({absent}) if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=REPO / "workflow" / "scripts")
    assert result.stdout.strip() == "[]", result.stdout + result.stderr

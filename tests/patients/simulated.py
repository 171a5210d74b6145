"""Simulated patient-level inputs for the patient tests (``tests/patients``): paired tumours with a planted
covariate effect on an axis score, and follow-up with a planted hazard. Imported by the test modules beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def covariate_cohort(seed: int, effect: float, patients: int = 30) -> pd.DataFrame:
    """A primary and a liver metastasis per patient; per patient a serum ``high_glycosylation`` flag (40% yes)
    and a CA19-9 value (log-normal, 10% of samples missing); the EGFR score is ``effect`` x flag + a patient
    effect (sd 0.5) + 0.5 in metastases + noise (sd 0.5). CA19-9 has no effect. Indexed by sample."""
    rng = np.random.default_rng(seed)
    names = [f"p{i}" for i in range(patients)]
    glyco = dict(zip(names, rng.random(patients) < 0.4))
    ca199 = dict(zip(names, rng.lognormal(3, 1, patients)))
    rows = []
    for patient in names:
        shared = rng.normal(0, 0.5)
        for site in ("primary", "liver_metastasis"):
            rows.append((f"{patient}_{site}", patient, site, "yes" if glyco[patient] else "no",
                         ca199[patient] if rng.random() > 0.1 else np.nan,
                         effect * glyco[patient] + shared + rng.normal(0, 0.5) + (0.5 if site != "primary" else 0)))
    columns = ["sample", "patient", "site", "high_glycosylation", "ca19_9", "EGFR"]
    return pd.DataFrame(rows, columns=columns).set_index("sample")


def survival_cohort(seed: int, hazard_ratio: float, patients: int = 60) -> pd.DataFrame:
    """One tumour per patient: the axis active in 40% (score +2 sd), exponential event times with hazard 0.1,
    times ``hazard_ratio`` when active, uniform censoring over 0-20. Columns ``score, active, time, event``."""
    rng = np.random.default_rng(seed)
    active = rng.random(patients) < 0.4
    score = rng.normal(0, 1, patients) + 2 * active
    event_time = rng.exponential(1 / (0.1 * np.where(active, hazard_ratio, 1.0)))
    censor = rng.uniform(0, 20, patients)
    return pd.DataFrame({"score": score, "active": active, "time": np.minimum(event_time, censor),
                         "event": (event_time <= censor).astype(int)})

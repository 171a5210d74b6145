"""The patient layer of a simulated cohort: which tumours carry a programme (an axis active in a stated share of
tumours, not all), and clinical columns that depend on it (a serum glycosylation flag, overall survival).

Used by :func:`simulate.simulate_cohort` when the design has a :class:`PatientLayer`; draws from its own random
stream, so designs without one are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["PatientLayer", "CLINICAL_COLUMNS"]

#: The sample-sheet columns a patient layer adds (per patient: every sample of a patient carries the same values).
CLINICAL_COLUMNS = ("high_glycosylation", "os_months", "os_event")


@dataclass(frozen=True)
class PatientLayer:
    """Per-tumour activity of one planted programme, and clinical columns tied to it.

    Attributes
    ----------
    programme : str
        The planted programme whose activity varies between tumours (e.g. ``egfr_axis``).
    active_share : mapping of str to float
        Per site, the share of that site's tumours carrying the programme (``round(share x n)`` of them, drawn at
        random); a site left out keeps the programme's group effect in every sample. A tumour without it has the
        programme's genes at their level without the programme (its effect removed).
    decisive_site : str
        Whose activity the clinical columns follow: the patient's sample at this site (patients without one are
        inactive).
    glycosylation : tuple of float
        The share of patients with ``high_glycosylation = yes`` among those whose decisive tumour is active, and
        among the others (``round(share x n)`` of each group, drawn at random).
    hazard : float
        Death rate per month of a patient whose decisive tumour is inactive (exponential times).
    hazard_ratio : float
        How many times higher when it is active.
    follow_up : tuple of float
        Censoring time, uniform over this range of months.
    """

    programme: str
    active_share: Mapping[str, float] = field(default_factory=dict)
    decisive_site: str = "liver_metastasis"
    glycosylation: tuple[float, float] = (0.7, 0.15)
    hazard: float = 0.02
    hazard_ratio: float = 3.0
    follow_up: tuple[float, float] = (24.0, 120.0)


def draw_activity(samples: pd.DataFrame, layer: PatientLayer, rng: np.random.Generator) -> np.ndarray:
    """Per sample (sheet order), whether it carries the layer's programme: ``round(share x n)`` of each listed
    site's samples, drawn without replacement; every sample of another site carries it (``True``; normal tissue
    carries no programme anyway)."""
    active = np.ones(len(samples), dtype=bool)
    for site, share in layer.active_share.items():
        where = np.flatnonzero((samples["site"] == site).to_numpy())
        chosen = rng.choice(where, size=int(round(share * len(where))), replace=False) if len(where) else []
        active[where] = False
        active[np.asarray(chosen, dtype=int)] = True
    return active


def clinical_columns(samples: pd.DataFrame, active: np.ndarray, layer: PatientLayer, rng: np.random.Generator
                     ) -> pd.DataFrame:
    """Per sample, the patient's ``high_glycosylation`` (yes / no: the layer's share of each group, by the
    activity of the patient's decisive tumour), ``os_months`` (rounded to 0.1) and ``os_event`` (1 death, 0
    censored; exponential death times, uniform censoring), drawn per patient."""
    decisive = samples.assign(active=active).loc[samples["site"] == layer.decisive_site]
    by_patient = decisive.groupby("patient", sort=False)["active"].first()
    patients = list(dict.fromkeys(samples["patient"]))
    on = np.array([bool(by_patient.get(p, False)) for p in patients])
    high = np.zeros(len(patients), dtype=bool)
    for group, share in ((on, layer.glycosylation[0]), (~on, layer.glycosylation[1])):
        where = np.flatnonzero(group)
        high[rng.choice(where, size=int(round(share * len(where))), replace=False)] = True
    rows = {}
    for i, patient in enumerate(patients):
        death = rng.exponential(1.0 / (layer.hazard * (layer.hazard_ratio if on[i] else 1.0)))
        censor = rng.uniform(*layer.follow_up)
        rows[patient] = ("yes" if high[i] else "no", round(float(min(death, censor)), 1), int(death <= censor))
    values = samples["patient"].map(rows)
    return pd.DataFrame(values.tolist(), columns=list(CLINICAL_COLUMNS), index=samples.index)

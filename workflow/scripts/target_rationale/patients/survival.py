"""Survival by axis (lifelines): one sample stands for each patient (the first site of ``site_order`` the
patient has), a Cox model of the axis score per SD with its hazard ratio, 95% interval, p, n and events and the
proportional-hazards check (Schoenfeld residuals, lifelines' ``proportional_hazard_test``), and Kaplan-Meier
curves by axis activity (:mod:`.plots`). Fewer than :data:`MIN_EVENTS` events: reported as underpowered, not as a
finding."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

SURVIVAL_COLUMNS = ["axis", "hr_per_sd", "ci_low", "ci_high", "p", "n", "events", "ph_p", "note"]
SURVIVAL_DATA_COLUMNS = ["axis", "sample", "score", "active", "time", "event"]
#: Events below which a survival analysis is reported as underpowered.
MIN_EVENTS = 10


def survival_data(activity: pd.DataFrame, sheet: pd.DataFrame, time: str, event: str, site_order: Sequence[str]
                  ) -> pd.DataFrame:
    """Per axis and patient: ``axis, sample, score, active, time, event`` (samples without time or event left
    out)."""
    rank = {site: i for i, site in enumerate(site_order)}
    axis_order = {axis: i for i, axis in enumerate(dict.fromkeys(activity["axis"]))}
    frame = activity.assign(_rank=activity["site"].map(rank).fillna(len(rank)),
                            _unit=activity["patient"].where(activity["patient"].notna(), activity["sample"]),
                            _axis=activity["axis"].map(axis_order))
    frame = frame.sort_values(["_axis", "_unit", "_rank"], kind="mergesort").drop_duplicates(["axis", "_unit"])
    times = pd.to_numeric(sheet[time], errors="coerce")  # empty cells coerce to NaN
    events = pd.to_numeric(sheet[event], errors="coerce")
    frame = frame.assign(time=frame["sample"].map(times), event=frame["sample"].map(events))
    frame = frame.dropna(subset=["time", "event", "score"])
    return frame[SURVIVAL_DATA_COLUMNS].reset_index(drop=True)


def cox_per_sd(data: pd.DataFrame) -> dict:
    """Cox model of one axis' score (standardised: the hazard ratio is per SD) on ``time`` / ``event``, with the
    proportional-hazards test of the score; NaNs when it cannot be fitted."""
    events = int(data["event"].sum())
    result = {"hr_per_sd": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan, "n": len(data),
              "events": events, "ph_p": np.nan, "note": ""}
    sd = float(data["score"].std(ddof=1)) if len(data) > 1 else 0.0
    if events < 2 or not sd > 0:
        result["note"] = "not estimable: fewer than 2 events or no spread of the score"
        return result
    frame = pd.DataFrame({"score": (data["score"] - data["score"].mean()) / sd, "time": data["time"],
                          "event": data["event"].astype(int)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = CoxPHFitter().fit(frame, duration_col="time", event_col="event")
        ph = proportional_hazard_test(fitter, frame, time_transform="rank")
    summary = fitter.summary.loc["score"]
    result.update(hr_per_sd=float(summary["exp(coef)"]), ci_low=float(summary["exp(coef) lower 95%"]),
                  ci_high=float(summary["exp(coef) upper 95%"]), p=float(summary["p"]),
                  ph_p=float(ph.summary.loc["score", "p"]))
    if events < MIN_EVENTS:
        result["note"] = f"underpowered: {events} events (< {MIN_EVENTS}); not a finding"
    return result


def survival_table(data: pd.DataFrame) -> pd.DataFrame:
    """:func:`cox_per_sd` per axis of :func:`survival_data` output."""
    rows = [{"axis": axis, **cox_per_sd(block)} for axis, block in data.groupby("axis", sort=False)]
    return pd.DataFrame(rows, columns=SURVIVAL_COLUMNS)

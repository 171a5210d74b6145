"""What rule ``patients`` writes (:func:`write_patients`): the activity, prevalence and per-patient change tables
and a readable summary (:func:`summary_markdown`), each written atomically with a log line."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from target_rationale.core.io import write_atomic, write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.patients.activity import activity_table
from target_rationale.patients.associations import association_table
from target_rationale.patients.prevalence import (
    ALL_TUMOURS,
    patient_changes,
    prevalence_table,
    transitions_summary,
)
from target_rationale.patients.settings import Layout, PatientSettings
from target_rationale.patients.survival import (
    MIN_EVENTS,
    SURVIVAL_DATA_COLUMNS,
    survival_data,
    survival_table,
)


def _pct(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{100 * value:.0f}%"


def rule_sentence(rule: str, settings: PatientSettings, n_normals: int) -> str:
    """How the rule calls a tumour's axis active, in one sentence."""
    if rule == "normal":
        return (f"A tumour's axis is active when its score is above the one-sided tolerance bound of the {n_normals} "
                f"normal-tissue samples (mean + k sd: above {_pct(settings.content)} of normal tissue with "
                f"{_pct(settings.confidence)} confidence); a tumour whose axis is as in normal tissue is called "
                f"active with probability at most {_pct(1 - settings.content)}.")
    return (f"With {n_normals} normal-tissue sample(s) (the normal rule needs {settings.min_normals}), a tumour's axis "
            "is active when the tumours' scores fit two normal components better than one (BIC) and the tumour is "
            "more likely in the upper one; otherwise no tumour is active (needs "
            f"{settings.min_tumours} tumours). Active means: in the upper group of this cohort's tumours; an axis "
            "raised alike in every tumour has no such group.")


def corrected_sentence(prevalence: pd.DataFrame, settings: PatientSettings) -> str:
    """The shares corrected for the rule's error rates (over all tumours), or why they are not."""
    rates = settings.rule_rates or {}
    if rates.get("false_active") is None:
        return ("Shares as called, not corrected for the rule's error rates (set `patients.rule_rates` to correct "
                "them; the rates measured on simulated cohorts are in the README's error-rate table).")
    sens = rates.get("sensitivity")
    parts = [f"{r.axis} {_pct(r.share_corrected)} ({_pct(r.corrected_ci_low)}-{_pct(r.corrected_ci_high)})"
             for r in prevalence.loc[prevalence["site"] == ALL_TUMOURS].itertuples()]
    return (f"Corrected for a false-active rate of {_pct(rates['false_active'])} and a sensitivity of "
            f"{_pct(1.0 if sens is None else sens)}{' (not set: 1)' if sens is None else ''} (Rogan-Gladen), the "
            f"share of active tumours over all tumours: {'; '.join(parts)}.")


def summary_markdown(prevalence: pd.DataFrame, transitions: pd.DataFrame, rule: str, settings: PatientSettings,
                     n_normals: int) -> str:
    """The patient-level answer in text: the rule, per axis the share of active tumours by site, the literature's
    share where configured, and the per-patient gains and losses."""
    lines = ["## Patients", "", rule_sentence(rule, settings, n_normals), ""]
    for axis, block in prevalence.groupby("axis", sort=False):
        parts = [f"{int(r.n_active)}/{int(r.n)} {r.site.replace('_', ' ')} ({_pct(r.share)}, 95% CI "
                 f"{_pct(r.ci_low)}-{_pct(r.ci_high)})" for r in block.itertuples() if r.n > 0]
        text = f"- {axis}: active in " + ("; ".join(parts) if parts else "no tumour with a call")
        reference = block.loc[block["site"] == ALL_TUMOURS].iloc[0]
        if pd.notna(reference["reference_share"]):
            text += (f"; published share {_pct(reference['reference_share'])} ({reference['reference_source']}), "
                     "printed for reading, not compared: a different measure")
        lines.append(text + ".")
    lines += ["", corrected_sentence(prevalence, settings)]
    if len(transitions):
        lines += ["", "From primary to metastasis, per patient with both:"]
        for r in transitions.itertuples():
            called = r.gained + r.lost + r.stays_active + r.stays_inactive
            calls = (f"gained activity in {r.gained}, lost it in {r.lost}, active in both {r.stays_active}, in "
                     f"neither {r.stays_inactive}" if called else "activity not called")
            noise = (f"score up beyond the normal-tissue noise in {r.up_beyond_noise}, down in {r.down_beyond_noise}"
                     if r.noise_known else "no normal tissue to measure the noise of a score")
            lines.append(f"- {r.axis}: {r.n_patients} patients; {calls}; {noise}.")
    else:
        lines += ["", "No patient has both a primary and a metastasis sample (or the sheet has no `patient` "
                      "column): no per-patient change."]
    return "\n".join(lines) + "\n"


def write_patients(scores: pd.DataFrame, sheet: pd.DataFrame, where: Layout, settings: PatientSettings,
                   references: Mapping[str, tuple[float, str]], seed: int, out: Mapping[str, str],
                   proxies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rule ``patients``: ``activity``, ``prevalence``, ``changes`` (per patient), ``associations``, ``survival``
    (empty without ``settings.survival``), ``survival_data`` (what the Kaplan-Meier plot draws) and ``summary``
    (markdown), from the target stage's scores (samples x axes), the sample sheet (both indexed by sample) and
    the proxy scores (samples x proxies, tested like covariates)."""
    axes = list(scores.columns)
    activity = activity_table(scores, sheet, where, settings, seed)
    normals = sheet.index[sheet[where.variable].astype(str) == where.normal] if where.normal else pd.Index([])
    noise = {axis: float(scores.loc[normals, axis].std(ddof=1)) for axis in axes} if len(normals) >= 2 else {}
    rates = settings.rule_rates or {}
    prevalence = prevalence_table(activity, where, references, rates.get("false_active"), rates.get("sensitivity"))
    changes = patient_changes(activity, where, noise)
    transitions = transitions_summary(changes)
    covariates = sheet.copy()
    if proxies is not None and len(proxies.columns):
        covariates = covariates.join(proxies.add_prefix("proxy:"))
    tested = list(settings.covariates) + ([f"proxy:{c}" for c in proxies.columns] if proxies is not None else [])
    associations = association_table(scores, covariates, where, tested)
    if settings.survival:
        order = settings.survival.get("site_order") or [where.primary, where.metastasis]
        data = survival_data(activity, sheet, settings.survival["time"], settings.survival["event"],
                             [s for s in order if s])
    else:
        data = pd.DataFrame(columns=SURVIVAL_DATA_COLUMNS)
    survival = survival_table(data)
    rule = activity["rule"].iloc[0] if len(activity) else ""
    for row in prevalence.itertuples():
        LOG.info("%s / %s: %d of %d active (%s rule)", row.axis, row.site, row.n_active, row.n, row.rule)
    for table, key in ((activity, "activity"), (prevalence, "prevalence"), (changes, "changes"),
                       (associations, "associations"), (survival, "survival"), (data, "survival_data")):
        write_tsv(table, out[key])
    text = summary_markdown(prevalence, transitions, rule, settings, len(normals))
    text += associations_markdown(associations) + survival_markdown(survival, settings.survival)
    write_atomic(out["summary"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return activity


def associations_markdown(associations: pd.DataFrame, fdr: float = 0.05) -> str:
    """The associations in text: each with padj < ``fdr``, and how many were tested."""
    if associations.empty:
        return "\nNo covariate or proxy configured (`patients.covariates`, `patients.proxies`): no association.\n"
    lines = ["", f"Associations with the axis scores ({len(associations)} tests, Benjamini-Hochberg):"]
    hits = associations.loc[associations["padj"] < fdr]
    for r in hits.itertuples():
        lines.append(f"- {r.axis} ~ {r.covariate} ({r.contrast}): {r.effect:+.2f} (95% CI {r.ci_low:+.2f} to "
                     f"{r.ci_high:+.2f}), p = {r.p:.2g}, padj = {r.padj:.2g}, n = {r.n} ({r.method}).")
    if hits.empty:
        lines.append(f"- none with padj < {fdr:g}.")
    return "\n".join(lines) + "\n"


def survival_markdown(survival: pd.DataFrame, configured: Mapping | None) -> str:
    """The survival models in text, underpowered ones said to be so."""
    if not configured:
        return "\nNo survival columns configured (`patients.survival`): no survival analysis.\n"
    lines = ["", "Survival (Cox, per SD of the axis score; one sample per patient):"]
    for r in survival.itertuples():
        text = (f"- {r.axis}: HR {r.hr_per_sd:.2f} (95% CI {r.ci_low:.2f}-{r.ci_high:.2f}), p = {r.p:.2g}, "
                f"n = {r.n}, {r.events} events; proportional hazards p = {r.ph_p:.2g}")
        lines.append(text + (f" ({r.note})." if r.note else "."))
    if survival.empty:
        lines.append(f"- no patient with follow-up (or fewer than {MIN_EVENTS} events).")
    return "\n".join(lines) + "\n"

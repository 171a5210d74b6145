"""The report's answer: which contrast the target stage judges axes in, and the at-a-glance box built from the
axes and rationale tables. Pure: tables in, HTML strings out."""

from __future__ import annotations

import pandas as pd

from target_rationale.report.render import esc
from target_rationale.targets.rationale import refit_counts


def metastasis_contrast(axes: pd.DataFrame | None) -> str | None:
    """The contrast the target stage judges axes in (role ``metastasis``, else ``metastasis_vs_primary``; in
    tables without roles, the one whose rows say shared / unique), if any."""
    if axes is None or "contrast" not in axes:
        return None
    if "role" in axes:
        for role in ("metastasis", "metastasis_vs_primary"):
            judged = axes.loc[axes["role"] == role, "contrast"]
            if len(judged):
                return str(judged.iloc[0])
    if "unique" not in axes:
        return None
    judged = axes.loc[axes["unique"].notna(), "contrast"]
    return str(judged.iloc[0]) if len(judged) else None


#: How the at-a-glance box names an axis' uniqueness label.
GLANCE_LABELS = {"unique": "unique to this contrast", "shared": "shared with the primary contrast",
                 "unconfirmed": "flagged here only, but not different from primaries",
                 "shared_stronger_in_metastasis": "shared with the primary contrast, stronger here",
                 "shared_stronger_in_primary": "shared with the primary contrast, stronger there"}


def glance_html(axes: pd.DataFrame, rationale: pd.DataFrame) -> list[str]:
    """The at-a-glance box: the axes flagged in the judged contrast (:func:`metastasis_contrast`) with their
    label, compartment and refit agreement, and the best-covering therapy, or that none is named."""
    judged = metastasis_contrast(axes)
    if judged is None:
        return []
    rows = axes[(axes["contrast"] == judged) & (axes["flag"] != "none")]

    def described(row) -> str:
        label = row.unique if isinstance(row.unique, str) and row.unique else ""
        words = [GLANCE_LABELS.get(label, label)] if label else []
        if getattr(row, "compartment", "") == "microenvironment":
            words.append("microenvironment")
        kept = refit_counts(row._asdict(), "unique_{kind}_agree" if label else "flag_{kind}_agree")
        words += kept
        return f" ({esc('; '.join(words))})" if words else ""

    flagged = "; ".join(f"<strong>{esc(r.axis)}</strong> {esc(r.flag)}{described(r)}"
                        for r in rows.itertuples()) or "no axis flagged"
    sentences = [f"Flagged in <code>{esc(judged)}</code>: {flagged}."]
    labels = rows["unique"].dropna().astype(str) if "unique" in rows else pd.Series(dtype=str)
    labels = labels[labels != ""]  # no labels: a judged contrast without a primary one to compare
    if len(labels) and not (labels == "unique").any():
        sentences.append("None of them is unique to this contrast.")
    if "role" in axes:  # the direct metastasis-vs-primary contrast, when it is not the judged one
        direct = axes[(axes["role"] == "metastasis_vs_primary") & (axes["contrast"] != judged)]
        if len(direct):
            moved = direct[direct["flag"] != "none"]
            listed = ", ".join(f"<strong>{esc(r.axis)}</strong> {esc(r.flag)}" for r in moved.itertuples())
            sentences.append(f"Metastases against primaries (<code>{esc(str(direct['contrast'].iloc[0]))}</code>): "
                             f"{listed or 'no axis flagged'}.")
    if len(rationale) and len(rows):
        best = rationale.iloc[0]
        if pd.notna(best.get("rank")) and int(best["n_covered"]) > 0:
            sentences.append(f"Best-covering therapy: <strong>{esc(best['therapy'])}</strong> (covers "
                             f"{int(best['n_covered'])} of {int(best['n_flagged'])} axes flagged up: "
                             f"{esc(best['covers'])}).")
        else:
            sentences.append("No configured drug covers an axis flagged up through a receptor with evidence: no "
                             "therapy is named.")
    return ["<div class='glance'><h3>At a glance</h3><p>" + " ".join(sentences)
            + " Evidence in section 4, caveats in section 6.</p></div>"]

"""Patient figures: each axis' scores by site with the activity threshold, each patient's primary-to-metastasis
change, a forest plot of the associations, and Kaplan-Meier curves by activity."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from target_rationale.core.plotting import (  # noqa: E402
    DOWN_COLOR,
    UP_COLOR,
    freeze,
    level_colors,
    new_figure,
    plot_style,
    save_figure,
)

INACTIVE_COLOR = "#9E9E9E"


def plot_activity(activity: pd.DataFrame) -> Figure:
    """One panel per axis: tumour scores by site (active filled, inactive grey) and the activity threshold."""
    axes = list(dict.fromkeys(activity["axis"]))
    sites = list(dict.fromkeys(activity["site"]))
    colors = level_colors(sites)
    with plot_style():
        fig = new_figure(2.4 * max(len(axes), 1) + 1.0, 3.6)
        panels = np.atleast_1d(fig.subplots(1, max(len(axes), 1), squeeze=False)[0])
        rng = np.random.default_rng(0)
        for ax, axis in zip(panels, axes):
            block = activity.loc[activity["axis"] == axis]
            for i, site in enumerate(sites):
                part = block.loc[block["site"] == site]
                active = part["active"].fillna(False).astype(bool).to_numpy()
                x = i + rng.uniform(-0.15, 0.15, len(part))
                ax.scatter(x, part["score"], s=18, c=[colors[site] if a else INACTIVE_COLOR for a in active],
                           edgecolors="white", linewidths=0.4)
            threshold = block["threshold"].dropna()
            if len(threshold):
                ax.axhline(float(threshold.iloc[0]), color="black", lw=0.9, ls="--")
            ax.set_xticks(np.arange(len(sites)), sites, rotation=30, ha="right")
            rule = block["rule"].iloc[0] if len(block) else ""
            ax.set_title(f"{axis} ({rule} rule)")
        panels[0].set_ylabel("axis score; dashed: active above")
        fig.suptitle("Axis activity per tumour (grey: inactive)")
        freeze(fig)
    return fig


def plot_changes(changes: pd.DataFrame) -> Figure:
    """One panel per axis: each patient's primary and metastasis score joined by a line, red where the change is
    up beyond the noise interval, blue where down, grey otherwise."""
    axes = list(dict.fromkeys(changes["axis"])) or ["(no patient with both sites)"]
    with plot_style():
        fig = new_figure(2.2 * len(axes) + 1.0, 3.6)
        panels = np.atleast_1d(fig.subplots(1, len(axes), squeeze=False)[0])
        for ax, axis in zip(panels, axes):
            block = changes.loc[changes["axis"] == axis]
            for row in block.itertuples():
                color = UP_COLOR if row.ci_low > 0 else DOWN_COLOR if row.ci_high < 0 else INACTIVE_COLOR
                ax.plot([0, 1], [row.primary_score, row.metastasis_score], color=color, lw=1.0, marker="o",
                        markersize=3)
            ax.set_xticks([0, 1], ["primary", "metastasis"])
            ax.set_xlim(-0.3, 1.3)
            ax.set_title(axis)
        panels[0].set_ylabel("axis score")
        fig.suptitle("Per patient: primary to metastasis (red / blue: beyond the normal-tissue noise)")
        freeze(fig)
    return fig


def plot_survival(data: pd.DataFrame) -> Figure:
    """One panel per axis: Kaplan-Meier curves of the patients with the axis active and inactive (lifelines);
    a note instead when there is no follow-up."""
    axes = list(dict.fromkeys(data["axis"]))
    with plot_style():
        fig = new_figure(2.6 * max(len(axes), 1) + 0.8, 3.2)
        panels = np.atleast_1d(fig.subplots(1, max(len(axes), 1), squeeze=False)[0])
        if not axes:
            panels[0].text(0.5, 0.5, "no survival columns configured\n(patients.survival)", ha="center",
                           va="center", transform=panels[0].transAxes)
            panels[0].set_axis_off()
        for ax, axis in zip(panels, axes):
            block = data.loc[data["axis"] == axis]
            for label, color, part in (("active", UP_COLOR, block.loc[block["active"].fillna(False).astype(bool)]),
                                       ("inactive", INACTIVE_COLOR,
                                        block.loc[~block["active"].fillna(False).astype(bool)])):
                if len(part):
                    fitter = KaplanMeierFitter().fit(part["time"], part["event"], label=f"{label} (n={len(part)})")
                    fitter.plot_survival_function(ax=ax, ci_show=False, color=color, show_censors=True)
            ax.set_title(axis)
            ax.set_xlabel("time")
        panels[0].set_ylabel("survival")
        fig.suptitle("Kaplan-Meier by axis activity")
        freeze(fig)
    return fig


def plot_associations(associations: pd.DataFrame, fdr: float = 0.05) -> Figure:
    """Forest plot: one row per axis x covariate, the effect with its 95% CI (filled where padj < ``fdr``); a
    note instead when nothing was tested."""
    rows = associations.dropna(subset=["effect"]).reset_index(drop=True)
    with plot_style():
        fig = new_figure(6.4, 0.8 + 0.32 * max(len(rows), 2))
        ax = fig.subplots()
        if rows.empty:
            ax.text(0.5, 0.5, "no covariate or proxy tested\n(patients.covariates, patients.proxies)", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_axis_off()
        else:
            y = np.arange(len(rows))[::-1]
            hit = (rows["padj"] < fdr).to_numpy()
            ax.hlines(y, rows["ci_low"], rows["ci_high"], color=INACTIVE_COLOR, linewidth=1.2)
            ax.scatter(rows["effect"], y, s=28, zorder=3, color=np.where(hit, UP_COLOR, "white"),
                       edgecolors=np.where(hit, UP_COLOR, DOWN_COLOR))
            ax.axvline(0.0, color="black", linewidth=0.8)
            ax.set_yticks(y, [f"{r.axis} ~ {r.covariate}" for r in rows.itertuples()])
            ax.set_xlabel(f"effect on the axis score (95% CI; filled: padj < {fdr:g})")
        ax.set_title("Associations with the axis scores")
        freeze(fig)
    return fig


def write_patient_plots(activity: pd.DataFrame, changes: pd.DataFrame, survival_data: pd.DataFrame,
                        associations: pd.DataFrame, out: Mapping[str, str]) -> None:
    """Rule ``patient_plots``: activity by site, per-patient changes, Kaplan-Meier curves, the associations'
    forest plot."""
    save_figure(plot_activity(activity), out["activity"], out["activity_svg"])
    save_figure(plot_changes(changes), out["changes"], out["changes_svg"])
    save_figure(plot_survival(survival_data), out["survival"], out["survival_svg"])
    save_figure(plot_associations(associations), out["associations"], out["associations_svg"])

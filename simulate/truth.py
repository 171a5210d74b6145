"""The truth tables of a simulated cohort (planted genes, programmes) and the row subset of test cohorts.

Internal helpers of :func:`simulate.simulate_cohort`; the columns are documented on
:class:`simulate.SimulatedCohort`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulate.design import CohortDesign

__all__: list[str] = []


def subsample_rows(genes: pd.DataFrame, design: CohortDesign, info: list[dict[str, object]],
                   members_of: dict[str, list[int]], labels: list[list[str]], liver_idx: np.ndarray,
                   base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rows a :class:`~simulate.Subsample` keeps (sorted positions in ``genes``)."""
    sub = design.subsample
    assert sub is not None
    symbol_index = {s: i for i, s in enumerate(genes["symbol"])}
    chosen: set[int] = {symbol_index[g] for g in sub.always_include if g in symbol_index}
    chosen |= set(liver_idx.tolist())
    for prog, item in zip(design.programmes, info, strict=True):
        core = list(item["core"])  # type: ignore[arg-type]
        pool = list(members_of[prog.name])
        if prog.keep_core_in_subsample:
            chosen |= set(core)
        else:
            pool = sorted(set(pool) | set(core))
        pool = [g for g in pool if g not in chosen]
        k = min(sub.max_members_per_programme, len(pool))
        if k:
            chosen |= set(rng.choice(pool, size=k, replace=False).tolist())
    in_any_set = {g for m in members_of.values() for g in m}
    null_pool = [i for i in range(len(genes)) if not labels[i] and i not in chosen and i not in in_any_set]
    k_any = min(sub.n_null_any, sub.n_null, len(null_pool))
    if k_any:
        chosen |= set(rng.choice(null_pool, size=k_any, replace=False).tolist())
    expressed_pool = [i for i in null_pool if i not in chosen and base[i] >= sub.null_min_log2cpm]
    k = min(sub.n_null - k_any, len(expressed_pool))
    if k:
        chosen |= set(rng.choice(expressed_pool, size=k, replace=False).tolist())
    return np.array(sorted(chosen), dtype=int)


def truth_genes_table(genes: pd.DataFrame, keep: np.ndarray, labels: list[list[str]], lfc_p: np.ndarray,
                      lfc_m: np.ndarray, obs_p: np.ndarray, obs_m: np.ndarray, base: np.ndarray,
                      with_primary: bool = False) -> pd.DataFrame:
    """One row per kept gene with a label; ``with_primary`` adds ``expected_lfc_primary_vs_normal`` (host model:
    primaries carry host tissue too)."""
    rows = [i for i in keep if labels[i]]
    idx = np.array(rows, dtype=int)
    df = pd.DataFrame({
        "gene_id": genes["gene_id"].to_numpy()[idx],
        "symbol": genes["symbol"].to_numpy()[idx],
        "programme": [";".join(labels[i]) for i in rows],
        "lfc_primary_vs_normal": lfc_p[idx],
        "lfc_liver_met_vs_normal": lfc_m[idx],
        "lfc_liver_met_vs_primary": lfc_m[idx] - lfc_p[idx],
        "expected_lfc_liver_met_vs_normal": obs_m[idx],
        "expected_lfc_liver_met_vs_primary": obs_m[idx] - obs_p[idx],
        "baseline_log2cpm": base[idx],
    })
    if with_primary:
        df.insert(6, "expected_lfc_primary_vs_normal", obs_p[idx])
    num = df.columns[3:]
    df[num] = df[num].round(4) + 0.0  # + 0.0 turns -0.0 into 0.0
    return df.reset_index(drop=True)


def contrast_calls(lp: float, lm: float, tol: float = 0.25) -> tuple[str, str]:
    """The expected class over the two tumour-vs-normal contrasts, with the direct metastasis-vs-primary contrast
    deciding between shared and shared-stronger (the workflow's formal classes), and every contrast's call."""
    values = {"primary_vs_normal": lp, "liver_met_vs_normal": lm, "liver_met_vs_primary": lm - lp}
    calls = [f"{c}:{'up' if v > 0 else 'down'}" for c, v in values.items() if abs(v) >= tol]
    tumour = [c for c in ("primary_vs_normal", "liver_met_vs_normal") if abs(values[c]) >= tol]
    direct = np.sign(lm - lp) if abs(lm - lp) >= tol else 0.0
    if len(tumour) == 2:
        if np.sign(lp) != np.sign(lm):
            klass = "opposite"
        elif direct == 0:
            klass = "shared"
        else:
            klass = f"shared_stronger_in:{'liver_met_vs_normal' if direct == np.sign(lm) else 'primary_vs_normal'}"
    elif tumour:
        klass = f"unique:{tumour[0]}"
    else:
        klass = "none"
    return klass, ";".join(calls)


def truth_programmes_table(info: list[dict[str, object]], members_of: dict[str, list[int]], keep: np.ndarray,
                           design: CohortDesign, admixture_rows: list[dict[str, object]]) -> pd.DataFrame:
    """One row per planted programme (realised mean effects over the kept genes), then the admixture rows."""
    kept = set(keep.tolist())
    rows = []
    for prog, item in zip(design.programmes, info, strict=True):
        # realised means of the programme's own effects over its perturbed genes in the cohort (overlapping
        # programmes' effects are not included here; truth_genes has the summed per-gene effects)
        own_p: dict[int, float] = item["own_p"]  # type: ignore[assignment]
        own_m: dict[int, float] = item["own_m"]  # type: ignore[assignment]
        pert = [i for i in own_p if i in kept]
        mean_p = round(float(np.mean([own_p[i] for i in pert])), 3) + 0.0 if pert else 0.0
        mean_m = round(float(np.mean([own_m[i] for i in pert])), 3) + 0.0 if pert else 0.0
        klass, calls = contrast_calls(prog.lfc_primary, prog.lfc_liver_met)
        rows.append({
            "programme": prog.name, "source": item["source"], "groups": prog.groups, "direction": item["direction"],
            "mean_lfc_primary": mean_p, "mean_lfc_liver_met": mean_m,
            "n_genes_perturbed": len(pert),
            "n_set_members": len([i for i in members_of[prog.name] if i in kept]),
            "expected_class": klass, "expected_contrasts": calls, "description": item["description"],
        })
    return pd.DataFrame(rows + admixture_rows)


def legacy_admixture_row(keep: np.ndarray, design: CohortDesign, liver_idx: np.ndarray, obs_m: np.ndarray,
                         obs_p: np.ndarray) -> dict[str, object]:
    """The ``liver_admixture`` row of the original model (the fixed hepatocyte signature)."""
    kept = set(keep.tolist())
    liv = [i for i in liver_idx.tolist() if i in kept]
    lm = float(np.mean(obs_m[liv])) if liv else 0.0
    lmp = float(np.mean(obs_m[liv] - obs_p[liv])) if liv else 0.0
    calls = f"liver_met_vs_normal:up (artefact, mean observed {lm:.1f});liver_met_vs_primary:up (artefact, mean " \
            f"observed {lmp:.1f})"
    return {
        "programme": "liver_admixture", "source": "hand-picked list", "groups": "metastasis_contamination",
        "direction": "up", "mean_lfc_primary": 0.0, "mean_lfc_liver_met": 0.0, "n_genes_perturbed": len(liv),
        "n_set_members": 0, "expected_class": "artefact:liver_admixture", "expected_contrasts": calls,
        "description": "hepatocyte genes from normal liver tissue mixed into metastases (liver fraction "
                       f"{design.liver.fraction_range[0]:g}-{design.liver.fraction_range[1]:g}); not tumour biology",
    }


def host_admixture_row(name: str, groups: str, idx: list[int], artefacts: dict[str, np.ndarray],
                       description: str) -> dict[str, object]:
    """A ``liver_admixture`` / ``exocrine_admixture`` row of the host model.

    Parameters
    ----------
    name : str
        Row name.
    groups : str
        ``metastasis_contamination`` or ``primary_contamination``.
    idx : list of int
        Rows (genes) labelled with this admixture.
    artefacts : dict of str to ndarray
        Contrast -> expected admixture effect per gene (observed minus tumour-intrinsic log2 fold change).
    description : str
        One line.
    """
    calls = []
    for contrast, effect in artefacts.items():
        if idx:
            mean = float(np.mean(effect[idx]))
            calls.append(f"{contrast}:{'up' if mean > 0 else 'down'} (artefact, mean {mean:.1f})")
    up = bool(idx) and float(np.mean(next(iter(artefacts.values()))[idx])) > 0
    return {
        "programme": name, "source": "host reference (HPA v23)", "groups": groups, "direction": "up" if up else "down",
        "mean_lfc_primary": 0.0, "mean_lfc_liver_met": 0.0, "n_genes_perturbed": len(idx), "n_set_members": 0,
        "expected_class": f"artefact:{name}", "expected_contrasts": ";".join(calls), "description": description,
    }

"""The reference-anchored host-admixture model of the simulator (opt-in: ``CohortDesign(host=HostAdmixture())``).

The host reference is the project's HPA v23 table (``resources/host_reference/``, read with
:func:`target_rationale.admixture.reference.load_host_reference`). The model, per gene ``g``:

* ``delta_g ~ N(0, perturbation_sd)`` (natural log), one draw per gene per cohort, multiplies every host
  component: the cohort's "true" host tissues differ from HPA's the way a real cohort's do, so an estimator that
  reads the reference is never tested on the very profile that made the data;
* the normal pancreas baseline is the pancreas TISSUE profile times an independent ``exp(epsilon_g)``
  (``baseline_perturbation_sd``), in log2 CPM (genes at 0 there get a low random level; genes the reference lacks
  keep the design's random baseline), and tumours are that baseline plus the planted programmes, so the tumour's
  own expression of host-expressed genes is that of pancreas tissue;
* each host component is a perturbed reference profile renormalised over the universe (genes the reference lacks
  are carried at their baseline share, so they are neutral to admixture); ``pancreas_exocrine`` is the pancreas
  tissue minus its islet part (see :class:`simulate.HostAdmixture`);
* each liver metastasis draws a liver fraction ``f`` and a cell mix ``w ~ Dirichlet``; its proportions are
  ``(1 - f) x tumour + f x sum_k w_k x component_k`` (primaries likewise with the exocrine host).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from target_rationale.admixture.reference import HostReference, load_host_reference

from simulate.design import PANCREAS_EXOCRINE, CohortDesign, HostAdmixture, HostTissue

__all__ = ["HOST_REFERENCE", "HOST_MANIFEST", "shipped_host_reference", "map_reference", "exocrine_profile",
           "HostModel", "build_host_model", "HostDraws", "draw_hosts", "truth_host_genes"]

_REPO = Path(__file__).resolve().parent.parent
#: The shipped host reference and its manifest.
HOST_REFERENCE = _REPO / "resources" / "host_reference" / "hpa_v23_host_ntpm.tsv.gz"
HOST_MANIFEST = _REPO / "resources" / "host_reference" / "MANIFEST.yaml"

#: Acinar / ductal balance of the "exocrine" side when the islet share of a pancreas gene is worked out.
_EXOCRINE_SPLIT = (("exocrine_glandular_cells", 0.85), ("ductal_cells", 0.15))
_ENDOCRINE = "pancreatic_endocrine_cells"
_PANCREAS = "pancreas"


@functools.lru_cache(maxsize=1)
def shipped_host_reference() -> HostReference:
    """The shipped HPA v23 host reference, checked against its manifest (read once per process).

    Returns
    -------
    HostReference
        ``resources/host_reference/hpa_v23_host_ntpm.tsv.gz``.
    """
    return load_host_reference(HOST_REFERENCE, HOST_MANIFEST)


def map_reference(genes: pd.DataFrame, reference: HostReference) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The reference's nTPM for each gene of the simulator's universe: by Ensembl id, then by symbol.

    Parameters
    ----------
    genes : DataFrame
        ``gene_id, symbol`` (unique), the simulator's universe.
    reference : HostReference
        The host reference.

    Returns
    -------
    levels : DataFrame
        Universe genes (rows, in ``genes`` order) x reference profiles, nTPM as shipped; NaN where unmapped.
    reference_id : Series
        The reference row used per gene (empty string where unmapped).
    matched_by : Series
        ``id``, ``symbol`` (the universe's id is not in the reference but its symbol is, on a reference row no
        other gene took by id) or ``none``.
    """
    table = reference.table
    ids = genes["gene_id"].astype(str)
    by_id = ids.isin(table.index)
    taken = set(ids[by_id])
    symbol_rows = table.loc[~table.index.isin(taken)]
    symbol_rows = symbol_rows[~symbol_rows["symbol"].duplicated(keep=False)]
    symbol_to_id = pd.Series(symbol_rows.index, index=symbol_rows["symbol"].to_numpy())
    ref_id = ids.where(by_id, genes["symbol"].map(symbol_to_id)).fillna("")
    matched_by = pd.Series(np.where(by_id, "id", np.where(ref_id != "", "symbol", "none")), index=genes.index)
    mapped = ref_id != ""
    levels = pd.DataFrame(np.nan, index=genes.index, columns=reference.profiles)
    levels.loc[mapped, :] = table.loc[ref_id[mapped], reference.profiles].to_numpy(dtype=float)
    return levels, ref_id.rename("reference_id"), matched_by.rename("matched_by")


def _unit(values: np.ndarray) -> np.ndarray:
    total = np.nansum(values)
    if total <= 0:
        raise ValueError("a host profile is zero over the gene universe")
    return np.nan_to_num(values) / total


def exocrine_profile(levels: pd.DataFrame, symbols: pd.Series, host: HostAdmixture) -> np.ndarray:
    """The pancreas tissue profile minus its islet part (nTPM scale, NaN where unmapped).

    Parameters
    ----------
    levels : DataFrame
        From :func:`map_reference`.
    symbols : Series
        Gene symbols, aligned with ``levels``.
    host : HostAdmixture
        ``islet_fraction`` and ``islet_genes``.

    Returns
    -------
    ndarray
        ``pancreas_g x (1 - s_g)`` with ``s_g = c E_g / (c E_g + (1 - c) X_g)`` on renormalised profiles (``E``
        pancreatic endocrine cells, ``X`` = 0.85 acinar + 0.15 ductal cells, ``c`` the islet fraction) and
        ``s_g = 1`` for the islet hormone genes.
    """
    c = host.islet_fraction
    endocrine = _unit(levels[_ENDOCRINE].to_numpy())
    exocrine = sum(w * _unit(levels[p].to_numpy()) for p, w in _EXOCRINE_SPLIT)
    islet = c * endocrine
    denom = islet + (1 - c) * exocrine
    share = np.divide(islet, denom, out=np.zeros_like(denom), where=denom > 0)
    share[symbols.isin(host.islet_genes).to_numpy()] = 1.0
    return levels[_PANCREAS].to_numpy() * (1.0 - share)


@dataclass(frozen=True)
class HostModel:
    """The cohort-level part of the host model (before any sample is drawn).

    Attributes
    ----------
    base : ndarray
        Normal pancreas baseline, log2 CPM per gene.
    delta : ndarray
        Per-gene host perturbation (natural log; 0 where the gene is not in the reference).
    epsilon : ndarray
        Per-gene perturbation of the pancreas tissue baseline (natural log; 0 where not in the reference).
    reference_id, matched_by : Series
        From :func:`map_reference`.
    components : dict of str to ndarray
        Every host component in use: perturbed profile, proportions over the universe (sum 1).
    reference_components : dict of str to ndarray
        The same without the perturbation.
    """

    base: np.ndarray
    delta: np.ndarray
    epsilon: np.ndarray
    reference_id: pd.Series
    matched_by: pd.Series
    components: dict[str, np.ndarray]
    reference_components: dict[str, np.ndarray]

    def mean_host(self, tissue: HostTissue, perturbed: bool = True) -> np.ndarray:
        """A host tissue at its mean cell mix (proportions summing to 1)."""
        comps = self.components if perturbed else self.reference_components
        return sum(w * comps[p] for p, w in tissue.components)


def _random_baseline(n: int, design: CohortDesign, rng: np.random.Generator) -> np.ndarray:
    expressed = rng.random(n) < design.expressed_fraction
    hi = rng.normal(*design.expressed_log2cpm, size=n)
    lo = rng.normal(*design.low_log2cpm, size=n)
    return np.clip(np.where(expressed, hi, lo), *design.log2cpm_clip)


def build_host_model(genes: pd.DataFrame, design: CohortDesign, reference: HostReference,
                     rng: np.random.Generator) -> HostModel:
    """Map the reference onto the universe, perturb it and derive the baseline and the host components.

    Parameters
    ----------
    genes : DataFrame
        ``gene_id, symbol``, the universe (sorted by id).
    design : CohortDesign
        With ``host`` set.
    reference : HostReference
        The host reference.
    rng : numpy.random.Generator
        Draws the host perturbation, the baseline perturbation, the levels of absent genes and the baseline of
        unmapped genes, in that order.

    Returns
    -------
    HostModel
        Baseline and component profiles.
    """
    host = design.host
    assert host is not None
    levels, ref_id, matched_by = map_reference(genes, reference)
    mapped = (matched_by != "none").to_numpy()
    n = len(genes)
    delta = np.where(mapped, rng.normal(0.0, host.perturbation_sd, size=n), 0.0)
    epsilon = np.where(mapped, rng.normal(0.0, host.baseline_perturbation_sd, size=n), 0.0)
    factor = np.exp(delta)

    pancreas = levels[_PANCREAS].to_numpy()
    present = mapped & (pancreas > 0)
    absent = rng.uniform(*host.absent_log2cpm, size=n)
    random_base = _random_baseline(n, design, rng)
    used = np.where(present, pancreas * np.exp(epsilon), 0.0)
    base = np.where(present, np.log2(np.maximum(used, 1e-300) / used.sum() * 1e6),
                    np.where(mapped, absent, random_base))
    normal = np.exp2(base - base.max())
    normal /= normal.sum()
    unmapped_share = normal[~mapped].sum()

    raw: dict[str, np.ndarray] = {}
    for tissue in host.tissues:
        for profile in tissue.profiles:
            if profile in raw:
                continue
            if profile == PANCREAS_EXOCRINE:
                raw[profile] = exocrine_profile(levels, genes["symbol"], host)
            elif profile in reference.kinds:
                raw[profile] = levels[profile].to_numpy()
            else:
                raise KeyError(f"host tissue {tissue.name}: unknown profile {profile!r}; available: "
                               f"{', '.join([*reference.profiles, PANCREAS_EXOCRINE])}")

    def as_proportions(values: np.ndarray) -> np.ndarray:
        out = _unit(np.where(mapped, values, 0.0)) * (1.0 - unmapped_share)
        out[~mapped] = normal[~mapped]
        return out

    components = {p: as_proportions(v * factor) for p, v in raw.items()}
    reference_components = {p: as_proportions(v) for p, v in raw.items()}
    return HostModel(base=base, delta=delta, epsilon=epsilon, reference_id=ref_id, matched_by=matched_by,
                     components=components, reference_components=reference_components)


@dataclass(frozen=True)
class HostDraws:
    """The per-sample host draws.

    Attributes
    ----------
    tissue : list of str
        Host tissue name per sample (``""`` for none).
    fraction : ndarray
        Host fraction per sample (0 for none).
    mix : DataFrame
        Samples x ``<tissue>_mix_<profile>`` columns (0 where not applicable).
    profiles : ndarray
        Genes x samples host proportions (zeros for samples without host).
    """

    tissue: list[str]
    fraction: np.ndarray
    mix: pd.DataFrame
    profiles: np.ndarray


def draw_hosts(sites: list[str], host: HostAdmixture, model: HostModel, rng: np.random.Generator) -> HostDraws:
    """Draw each sample's host fraction and cell mix (liver for metastases, exocrine pancreas for primaries).

    Parameters
    ----------
    sites : list of str
        Site per sample, in sample order.
    host : HostAdmixture
        The host model.
    model : HostModel
        Its components.
    rng : numpy.random.Generator
        Per sample with a host, in sample order: the fraction, then the Dirichlet mix.

    Returns
    -------
    HostDraws
        Fractions, mixes and host profiles.
    """
    by_site = {"liver_metastasis": host.liver, "primary": host.pancreas}
    columns = [f"{t.name}_mix_{p}" for t in host.tissues for p in t.profiles]
    n_genes = len(model.base)
    names: list[str] = []
    fraction = np.zeros(len(sites))
    mix = np.zeros((len(sites), len(columns)))
    profiles = np.zeros((n_genes, len(sites)))
    for j, site in enumerate(sites):
        tissue = by_site.get(site)
        if tissue is None:
            names.append("")
            continue
        names.append(tissue.name)
        fraction[j] = rng.uniform(*tissue.fraction_range)
        w = rng.dirichlet(tissue.concentration * np.asarray(tissue.proportions))
        for k, profile in enumerate(tissue.profiles):
            mix[j, columns.index(f"{tissue.name}_mix_{profile}")] = w[k]
            profiles[:, j] += w[k] * model.components[profile]
    return HostDraws(tissue=names, fraction=fraction, mix=pd.DataFrame(mix, columns=columns), profiles=profiles)


def _cpm(p: np.ndarray) -> np.ndarray:
    return np.round(p * 1e6, 4) + 0.0


def truth_host_genes(genes: pd.DataFrame, keep: np.ndarray, host: HostAdmixture, model: HostModel,
                     draws: HostDraws, share: np.ndarray, dispersion: np.ndarray,
                     tumour: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per gene: reference mapping, perturbation, host levels, the host's expected share of counts, dispersion.

    Parameters
    ----------
    genes : DataFrame
        The universe.
    keep : ndarray
        Rows kept in the output.
    host : HostAdmixture
        The host model.
    model : HostModel
        Its components.
    draws : HostDraws
        The per-sample draws.
    share : ndarray
        Genes x samples host share of the expected counts.
    dispersion : ndarray
        Per-gene NB dispersion used.
    tumour : dict of str to ndarray
        Site -> the pure tissue's proportions (``normal_pancreas``, ``primary`` and ``liver_metastasis`` tumour).

    Returns
    -------
    DataFrame
        ``gene_id, symbol, reference_id, matched_by, perturbation, baseline_perturbation`` (natural log: host
        components, pancreas baseline), ``normal_cpm`` (baseline),
        ``primary_tumour_cpm`` and ``metastasis_tumour_cpm`` (the pure tumours, before admixture and nuisance
        effects: the host's share of a gene in a metastasis with liver fraction f and the mean cell mix is
        ``f H / ((1 - f) T + f H)`` with ``H = liver_cpm``, ``T = metastasis_tumour_cpm``);
        per host tissue ``<tissue>_reference_cpm`` (mean mix, HPA as shipped, renormalised over the universe),
        ``<tissue>_cpm`` (mean mix, perturbed: what the cohort's host expresses on average), ``<tissue>_share``
        (mean over that tissue's samples of the host's share of the gene's expected counts); then ``dispersion``.
    """
    normal = np.exp2(model.base - model.base.max())
    normal /= normal.sum()
    data: dict[str, object] = {
        "gene_id": genes["gene_id"].to_numpy()[keep], "symbol": genes["symbol"].to_numpy()[keep],
        "reference_id": model.reference_id.to_numpy()[keep], "matched_by": model.matched_by.to_numpy()[keep],
        "perturbation": np.round(model.delta[keep], 4) + 0.0,
        "baseline_perturbation": np.round(model.epsilon[keep], 4) + 0.0, "normal_cpm": _cpm(normal[keep]),
        "primary_tumour_cpm": _cpm(tumour["primary"][keep]),
        "metastasis_tumour_cpm": _cpm(tumour["liver_metastasis"][keep]),
    }
    tissue_of = np.array(draws.tissue)
    for tissue in host.tissues:
        data[f"{tissue.name}_reference_cpm"] = _cpm(model.mean_host(tissue, perturbed=False)[keep])
        data[f"{tissue.name}_cpm"] = _cpm(model.mean_host(tissue)[keep])
        cols = tissue_of == tissue.name
        mean_share = share[:, cols].mean(axis=1) if cols.any() else np.zeros(len(genes))
        data[f"{tissue.name}_share"] = np.round(mean_share[keep], 4) + 0.0
    data["dispersion"] = np.round(dispersion[keep], 5)
    return pd.DataFrame(data)

"""Seeded simulator of bulk RNA-seq tumour cohorts with planted, documented effects.

The simulator produces negative-binomial gene counts for a cohort of pancreatic neuroendocrine neoplasm (pNEN)
samples (adjacent normal pancreas, primary tumours, liver metastases) with:

* a realistic spread of baseline expression (many lowly expressed genes, a few very high ones),
* a DESeq2-like mean-dispersion trend (``dispersion = (a0 + a1 / mean) x lognormal scatter``),
* per-sample sequencing depths, a small per-patient random effect and a batch effect on subsets of genes,
* planted programmes (gene sets whose members get gene-specific log2 fold changes in tumours), and
* liver-tissue admixture in metastases: each metastasis is a mixture ``(1 - f) * tumour + f * liver``, so that
  hepatocyte genes come out "up in metastases" through contamination alone.

Two admixture models: the original one (``CohortDesign.liver``: a fixed hepatocyte signature at made-up levels on
a random baseline; the shipped tiny test cohort) and the host model (``CohortDesign.host``, see
:mod:`simulate.host`; the shipped demo cohort and the admixture benchmarks): baseline and host tissues from the
real HPA v23 reference, perturbed per gene, with a per-sample cell mix of the liver around metastases and of the
exocrine pancreas around primaries.

Everything random is drawn from ``numpy.random.default_rng(seed)`` (and generators spawned from it), so the same
inputs and seed give identical output. The functions are pure: they write nothing, and read nothing from disk
except the shipped host reference when a host design is simulated without one.

Site labels are ``normal_pancreas``, ``primary`` and ``liver_metastasis``; the three default contrasts are
``primary_vs_normal``, ``liver_met_vs_normal`` and ``liver_met_vs_primary``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from target_rationale.admixture.reference import HostReference
from target_rationale.genesets.gmt import GeneSet

from simulate.design import (
    EXOCRINE_HOST,
    LIVER_HOST,
    CohortDesign,
    HostAdmixture,
    LiverAdmixture,
    Programme,
    SimulatedCohort,
    Subsample,
)
from simulate.genes import (
    ACINAR_GENES,
    EXOCRINE_DUCTAL_GENES,
    HEPATOCYTE_CORE_GENES,
    NEUROENDOCRINE_GENES,
    SITES,
    TRANSCRIPTIONAL_MISREGULATION_GENES,
)
from simulate.host import HostDraws, HostModel, build_host_model, draw_hosts, shipped_host_reference, truth_host_genes
from simulate.patients import PatientLayer, clinical_columns, draw_activity
from simulate.truth import (
    host_admixture_row,
    legacy_admixture_row,
    subsample_rows,
    truth_genes_table,
    truth_programmes_table,
)

__all__ = [
    "sample_sheet",
    "pnen_programmes",
    "demo_design",
    "tiny_design",
    "simulate_cohort",
]

_SAMPLE_SUFFIX = {"normal_pancreas": "normal", "primary": "primary", "liver_metastasis": "liver_met"}

# Presets
# ----------------------------------------------------------------------------------------------------------------


def pnen_programmes() -> tuple[Programme, ...]:
    """The planted programmes of the pNEN trial rationale (NCT06592989).

    Returns
    -------
    tuple of Programme
        Cell cycle, DNA repair and tyrosine phosphorylation (up in both tumour groups, more in metastases); VEGFR,
        FGFR and CSF1R axes (up in both); EGFR axis and transcriptional misregulation (metastases only); loss of
        acinar enzymes and of exocrine/ductal genes, and neuroendocrine gain (both).
    """
    return (
        Programme("cell_cycle", "chromosome segregation / cell cycle, up in tumours, above all in metastases",
                  "both_tumours_stronger_in_metastases", 0.8, 1.8, go_ids=("GO:0007059", "GO:0044772")),
        Programme("dna_repair", "DNA repair, up in tumours, above all in metastases",
                  "both_tumours_stronger_in_metastases", 0.7, 1.6, go_ids=("GO:0006281", "GO:0006302")),
        Programme("tyrosine_phosphorylation", "peptidyl-tyrosine phosphorylation, up in tumours, above all in "
                  "metastases", "both_tumours_stronger_in_metastases", 0.7, 1.6, go_ids=("GO:0018108",)),
        Programme("vegfr_axis", "VEGFR signalling (hypervascular tumours: endothelium), up in both tumour groups",
                  "both_tumours", 1.5, 1.5, go_ids=("GO:0048010",),
                  core_genes=("KDR", "FLT1", "FLT4", "VEGFA"), core_baseline_log2cpm=(4.0, 8.0)),
        Programme("fgfr_axis", "FGFR signalling, up in both tumour groups", "both_tumours", 1.3, 1.3,
                  go_ids=("GO:0008543",), core_genes=("FGFR1",), core_baseline_log2cpm=(4.0, 7.0)),
        Programme("csf1r_axis", "CSF1R axis and tumour-associated macrophages, up in both tumour groups",
                  "both_tumours", 1.5, 1.5, go_ids=("GO:0036006",),
                  core_genes=("CSF1R", "CSF1", "IL34", "CD68", "CD163", "MRC1"), core_baseline_log2cpm=(3.0, 7.0)),
        Programme("egfr_axis", "EGFR signalling, receptors and ligands, up in liver metastases only",
                  "metastasis_only", 0.0, 1.6, go_ids=("GO:0007173",),
                  core_genes=("EGFR", "ERBB2", "ERBB3", "EGF", "TGFA", "AREG", "EREG", "HBEGF"),
                  core_baseline_log2cpm=(2.5, 6.5)),
        Programme("transcriptional_misregulation", "transcriptional misregulation in cancer (fusion partners, "
                  "oncogenic transcription factors), up in liver metastases only", "metastasis_only", 0.0, 1.6,
                  core_genes=TRANSCRIPTIONAL_MISREGULATION_GENES, core_baseline_log2cpm=(2.0, 6.0),
                  keep_core_in_subsample=False),
        Programme("acinar_loss", "acinar / exocrine enzymes, very high in normal pancreas, lost in tumours",
                  "both_tumours", -5.0, -5.0, core_genes=ACINAR_GENES, lfc_sd=0.5,
                  core_baseline_log2cpm=(10.0, 13.0), liver_offset=-8.0),
        Programme("exocrine_ductal_loss", "exocrine differentiation and ductal genes of normal pancreas, down in "
                  "tumours", "both_tumours", -2.5, -2.5, core_genes=EXOCRINE_DUCTAL_GENES, lfc_sd=0.4,
                  core_baseline_log2cpm=(4.0, 9.0), liver_offset=-4.0),
        Programme("neuroendocrine", "neuroendocrine markers (islet level in normal pancreas), up in tumours",
                  "both_tumours", 3.5, 3.5, core_genes=NEUROENDOCRINE_GENES, lfc_sd=0.4,
                  core_baseline_log2cpm=(3.0, 6.0), liver_offset=-3.0),
    )


def demo_design() -> CohortDesign:
    """The shipped demo cohort: 28 samples of 14 patients.

    Returns
    -------
    CohortDesign
        P01-P04: normal + primary + liver metastasis; P05-P10: primary + metastasis; P11-P12: primary only;
        P13-P14: metastasis only. ``~ patient + site`` is full rank; batches alternate over patients. Host tissue
        from the reference-anchored model (:class:`HostAdmixture`): liver metastases carry f ~ U(0.05, 0.30)
        liver (:data:`LIVER_HOST`'s cell mix), primaries g ~ U(0, 0.20) exocrine pancreas (:data:`EXOCRINE_HOST`),
        both from HPA v23 perturbed per gene; the normal pancreas baseline is the perturbed HPA pancreas tissue.
        Programmes as :func:`pnen_programmes`, but the acinar loss is -8 log2 (tumour cells make no acinar
        enzymes; see the comment below). A patient layer (:class:`PatientLayer`): the EGFR axis in 11 of the 12
        metastases, with a glycosylation flag and overall survival tied to it.
    """
    all3 = ("normal_pancreas", "primary", "liver_metastasis")
    pm = ("primary", "liver_metastasis")
    patients = tuple(
        (f"P{i:02d}", all3 if i <= 4 else pm if i <= 10 else ("primary",) if i <= 12 else ("liver_metastasis",))
        for i in range(1, 15)
    )
    # Tumour cells make no acinar enzymes: with real host tissue a primary's acinar reads come from its exocrine
    # admixture, so the acinar loss is -8 log2 (as in the admixture benchmarks' tumour_identity_programmes), not
    # -5: at -5 every tumour keeps 3% of the pancreas' acinar levels, which reads as 3% exocrine tissue in every
    # liver metastasis and leaves the exocrine host without usable anchor genes.
    programmes = tuple(replace(p, lfc_primary=-8.0, lfc_liver_met=-8.0,
                               description="acinar / exocrine enzymes, very high in normal pancreas, not made by "
                                           "tumour cells (a primary's acinar reads come from its exocrine host)")
                       if p.name == "acinar_loss" else p for p in pnen_programmes())
    # EGFR signalling in 11 of the 12 metastases only (the patient layer below), +2.0 log2 where it is active. A
    # tumour without the axis widens the metastases' spread, and EGFR is also made by the liver host: with 10 of 12
    # active the axis test vs normal fell to Holm p 0.06 (+2.5) and the receptor EGFR itself lost its evidence
    # (+2.0: p 0.09), so the demo could no longer show the trial's argument it exists to show
    programmes = tuple(replace(p, lfc_liver_met=2.0, description="EGFR signalling, receptors and ligands, up in 11 "
                               "of the 12 liver metastases (+2.0 log2 where active), not in primaries")
                       if p.name == "egfr_axis" else p for p in programmes)
    host = HostAdmixture(liver=replace(LIVER_HOST, fraction_range=(0.05, 0.30)), pancreas=EXOCRINE_HOST)
    # the patient layer: EGFR signalling in 11 of the 12 metastases (none of the primaries), a serum glycosylation
    # flag more common (70% vs 15%) and death three times as fast where the patient's metastasis carries it
    layer = PatientLayer("egfr_axis", active_share={"liver_metastasis": 11 / 12})
    return CohortDesign(name="demo", patients=patients, programmes=programmes, host=host, patient_layer=layer)


def tiny_design() -> CohortDesign:
    """The shipped tiny test cohort: 12 samples (T1-T4 with normal, primary, metastasis), ~490 genes.

    Returns
    -------
    CohortDesign
        The programmes of :func:`pnen_programmes` and the original liver-admixture model (a fixed hepatocyte
        signature, :class:`LiverAdmixture`), with a :class:`Subsample` keeping every target-axis gene, the
        20 core hepatocyte genes, the acinar, exocrine and neuroendocrine genes, up to 8 members per planted set and
        320 null genes (mostly expressed ones). Acinar and hepatocyte genes are set lower than the model's defaults
        so that they do not swamp the small libraries.
    """
    all3 = ("normal_pancreas", "primary", "liver_metastasis")
    # with only ~500 genes kept, acinar and hepatocyte genes at whole-transcriptome levels would take most of the
    # reads of normal samples and metastases; lower them so that the other genes keep useful counts
    programmes = tuple(replace(p, core_baseline_log2cpm=(5.5, 8.5)) if p.name == "acinar_loss" else p
                       for p in pnen_programmes())
    return CohortDesign(name="tiny", patients=tuple((f"T{i}", all3) for i in range(1, 5)), programmes=programmes,
                        liver=LiverAdmixture(genes=HEPATOCYTE_CORE_GENES, liver_log2cpm=(6.5, 10.5)),
                        subsample=Subsample())


def _members(gene_sets: Mapping[str, GeneSet | Sequence[str]], term_id: str) -> tuple[str, ...] | None:
    value = gene_sets.get(term_id)
    if value is None:
        return None
    return tuple(value.genes) if isinstance(value, GeneSet) else tuple(value)



# ----------------------------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------------------------


def sample_sheet(design: CohortDesign) -> pd.DataFrame:
    """The sample sheet of a design.

    Parameters
    ----------
    design : CohortDesign
        Patients and their sites.

    Returns
    -------
    DataFrame
        ``sample, patient, site, batch, simulated``; samples named ``<patient>_normal``, ``<patient>_primary``
        and ``<patient>_liver_met``; batch ``b1``/``b2`` alternating over patients; ``simulated`` is ``yes``
        for every sample: the workflow's report reads it and warns that the cohort is not patient data.

    Raises
    ------
    ValueError
        If a site is not one of :data:`SITES`.
    """
    unknown = {s for _, sites in design.patients for s in sites} - set(SITES)
    if unknown:
        raise ValueError(f"unknown site(s) {sorted(unknown)}; sites must be among {SITES}")
    rows = []
    for i, (patient, sites) in enumerate(design.patients):
        for site in SITES:
            if site in sites:
                rows.append({"sample": f"{patient}_{_SAMPLE_SUFFIX[site]}", "patient": patient, "site": site,
                             "batch": f"b{i % 2 + 1}", "simulated": "yes"})
    return pd.DataFrame(rows, columns=["sample", "patient", "site", "batch", "simulated"])


_Assignment = tuple[np.ndarray, np.ndarray, list[list[str]], list[dict[str, object]], dict[str, list[int]]]


def _assign_programmes(genes: pd.DataFrame, gene_sets: Mapping[str, GeneSet | Sequence[str]],
                       programmes: Sequence[Programme], exclude: Sequence[str], rng: np.random.Generator
                       ) -> _Assignment:
    """Draw per-gene tumour LFCs. Returns lfc_primary, lfc_met, programme labels per gene, programme info, members."""
    n = len(genes)
    index = {s: i for i, s in enumerate(genes["symbol"])}
    lfc_p = np.zeros(n)
    lfc_m = np.zeros(n)
    labels: list[list[str]] = [[] for _ in range(n)]
    all_core = {g for p in programmes for g in p.core_genes} | set(exclude)
    info: list[dict[str, object]] = []
    members_of: dict[str, list[int]] = {}

    def term_of(prog: Programme) -> tuple[str | None, tuple[str, ...]]:
        for term_id in prog.go_ids:
            found = _members(gene_sets, term_id)
            if found is not None:
                return term_id, tuple(found)
        if prog.go_ids:
            raise ValueError(f"programme {prog.name}: none of the gene sets {prog.go_ids} is in the collection")
        return None, ()

    # Genes of metastasis-only programmes (their gene set and core genes) are reserved: no other programme
    # perturbs them, so those programmes' terms stay null in primaries despite overlapping GO terms.
    reserved = {g for prog in programmes if prog.groups == "metastasis_only"
                for g in (*term_of(prog)[1], *prog.core_genes)}
    for prog in programmes:
        term, set_members = term_of(prog)
        core_idx = sorted({index[g] for g in prog.core_genes if g in index})
        blocked = all_core | (reserved if prog.groups != "metastasis_only" else set())
        member_idx = sorted({index[g] for g in set_members if g in index and g not in blocked})
        n_pick = int(round(prog.fraction_perturbed * len(member_idx)))
        picked = sorted(rng.choice(member_idx, size=n_pick, replace=False).tolist()) if n_pick else []
        perturbed = sorted(set(core_idx) | set(picked))
        # gene-specific effects: draw around the larger of the two means, scale to the other
        anchor = prog.lfc_primary if prog.lfc_primary != 0 else prog.lfc_liver_met
        eff = rng.normal(anchor, prog.lfc_sd, size=len(perturbed))
        eff = np.where(np.sign(eff) == np.sign(anchor), eff, anchor * 0.1)  # keep the programme's direction
        ratio_p = prog.lfc_primary / anchor
        ratio_m = prog.lfc_liver_met / anchor
        own_p: dict[int, float] = {}
        own_m: dict[int, float] = {}
        for j, gi in enumerate(perturbed):
            own_p[gi] = float(eff[j] * ratio_p)
            own_m[gi] = float(eff[j] * ratio_m)
            lfc_p[gi] += own_p[gi]
            lfc_m[gi] += own_m[gi]
            labels[gi].append(prog.name)
        members_of[prog.name] = member_idx
        source = " + ".join(([term] if term else []) + (["hand-picked list"] if prog.core_genes else []))
        info.append({"programme": prog.name, "source": source, "term": term, "groups": prog.groups,
                     "direction": "up" if anchor > 0 else "down", "own_p": own_p, "own_m": own_m,
                     "core": core_idx, "n_set_members": len(member_idx), "description": prog.description})
    return lfc_p, lfc_m, labels, info, members_of


def _baseline(genes: pd.DataFrame, design: CohortDesign, rng: np.random.Generator) -> np.ndarray:
    n = len(genes)
    expressed = rng.random(n) < design.expressed_fraction
    hi = rng.normal(*design.expressed_log2cpm, size=n)
    lo = rng.normal(*design.low_log2cpm, size=n)
    base = np.clip(np.where(expressed, hi, lo), *design.log2cpm_clip)
    index = {s: i for i, s in enumerate(genes["symbol"])}
    for prog in design.programmes:
        if prog.core_baseline_log2cpm is None:
            continue
        idx = [index[g] for g in prog.core_genes if g in index]
        base[idx] = rng.uniform(*prog.core_baseline_log2cpm, size=len(idx))
    return base


def _norm(log2_abundance: np.ndarray) -> np.ndarray:
    a = np.exp2(log2_abundance - log2_abundance.max())
    return a / a.sum()



def _legacy_liver(genes: pd.DataFrame, design: CohortDesign, labels: list[list[str]], rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The original model's baseline, liver tissue and hepatocyte-signature rows (labels them)."""
    base = _baseline(genes, design, rng)
    symbol_index = {s: i for i, s in enumerate(genes["symbol"])}
    liver_idx = np.array(sorted(symbol_index[g] for g in design.liver.genes if g in symbol_index), dtype=int)
    base[liver_idx] = rng.uniform(*design.liver.pancreas_log2cpm, size=len(liver_idx))
    liver = base.copy()
    for prog in design.programmes:
        if prog.liver_offset:
            idx = [symbol_index[g] for g in prog.core_genes if g in symbol_index]
            liver[idx] += prog.liver_offset
    liver[liver_idx] = rng.uniform(*design.liver.liver_log2cpm, size=len(liver_idx))
    for gi in liver_idx:
        labels[gi].append("liver_admixture")
    return base, _norm(liver), liver_idx


def simulate_cohort(genes: pd.DataFrame, gene_sets: Mapping[str, GeneSet | Sequence[str]], design: CohortDesign,
                    seed: int, reference: HostReference | None = None) -> SimulatedCohort:
    """Simulate a cohort of bulk RNA-seq gene counts with planted programmes and liver admixture.

    Parameters
    ----------
    genes : DataFrame
        Gene universe, columns ``gene_id, symbol`` (one row per gene, unique ids and symbols), e.g. from
        :func:`prepare_gene_table`. A host design maps the reference onto it by Ensembl id (unversioned), then by
        symbol.
    gene_sets : mapping of str to GeneSet or list of str
        Gene sets by id (e.g. GO BP from :func:`target_rationale.genesets.read_gmt`); must hold one of each
        programme's ``go_ids``. Members not in ``genes`` are ignored.
    design : CohortDesign
        Samples, programmes and noise model.
    seed : int
        Seed for ``numpy.random.default_rng``; same inputs and seed give identical output.
    reference : HostReference, optional
        The host reference of a design with ``host`` (default: the shipped one, :func:`shipped_host_reference`);
        ignored otherwise.

    Returns
    -------
    SimulatedCohort
        Counts, sample sheet and truth tables (with a host model also ``truth_host_genes`` and ``host_share``).

    Raises
    ------
    ValueError
        If gene ids or symbols are not unique, a site is unknown, or a programme's gene set is missing.

    Notes
    -----
    Model, per gene ``g`` and sample ``s``: tissue abundances (log2 CPM) are ``b_g`` (normal pancreas),
    ``b_g + lfc_primary_g`` (primary), ``b_g + lfc_met_g`` (tumour part of a metastasis) and ``l_g`` (liver: ``b_g``
    except for hepatocyte genes, which are very high, and programmes with a ``liver_offset``). Each tissue is
    normalised to proportions; a metastasis with liver fraction ``f`` has proportions
    ``(1 - f) * tumour + f * liver``. A per-patient effect and a batch effect multiply the proportions of subsets of
    genes; the column is renormalised and scaled by the sample's depth to give the NB mean ``mu``. Counts are
    gamma-Poisson with the gene's dispersion ``(a0 + a1 / mean_g) * lognormal``. With a :class:`Subsample`, the
    whole transcriptome is simulated and a subset of rows returned (library sizes shrink accordingly).

    With ``design.host`` (:class:`HostAdmixture`), ``b_g`` is the perturbed HPA pancreas tissue profile, the
    liver is a per-sample mix of perturbed HPA profiles and primaries carry exocrine pancreas the same way
    (:mod:`simulate.host`); ``design.liver`` and the programmes' ``core_baseline_log2cpm`` and ``liver_offset``
    are not used. The expected log2 fold changes of the truth are then averaged over the cohort's primaries too.
    """
    if genes["gene_id"].duplicated().any() or genes["symbol"].duplicated().any():
        raise ValueError("genes: gene_id and symbol must both be unique")
    genes = genes[["gene_id", "symbol"]].sort_values("gene_id", kind="mergesort").reset_index(drop=True)
    samples = sample_sheet(design)
    rng = np.random.default_rng(seed)
    r_prog, r_base, r_sample, r_patient, r_batch, r_disp, r_counts, r_sub = rng.spawn(8)
    host = design.host

    # --- tumour programmes and baseline -------------------------------------------------------------------------
    exclude = design.liver.genes if host is None else ()
    lfc_p, lfc_m, labels, info, members_of = _assign_programmes(genes, gene_sets, design.programmes, exclude,
                                                                r_prog)
    model: HostModel | None = None
    if host is None:
        base, liver_prop, liver_idx = _legacy_liver(genes, design, labels, r_base)
    else:
        r_model, r_draw = rng.spawn(2)
        model = build_host_model(genes, design, reference if reference is not None else shipped_host_reference(),
                                 r_model)
        base, liver_idx = model.base, np.array([], dtype=int)
    tissue = {"normal_pancreas": _norm(base), "primary": _norm(base + lfc_p), "liver_metastasis": _norm(base + lfc_m)}

    # --- samples --------------------------------------------------------------------------------------------------
    n_s = len(samples)
    depth = r_sample.uniform(*design.depth_range, size=n_s)
    is_met = (samples["site"] == "liver_metastasis").to_numpy()
    layer, carries, clinical = design.patient_layer, np.ones(n_s, dtype=bool), None
    inactive: dict[str, np.ndarray] = {}
    if layer is not None:  # its own stream, spawned last: designs without a layer draw as before
        r_layer = rng.spawn(1)[0]
        carries = draw_activity(samples, layer, r_layer)
        clinical = clinical_columns(samples, carries, layer, r_layer)
        own = next(item for item in info if item["programme"] == layer.programme)
        without = {"primary": np.zeros(len(genes)), "liver_metastasis": np.zeros(len(genes))}
        for site, key in (("primary", "own_p"), ("liver_metastasis", "own_m")):
            for gi, effect in own[key].items():  # type: ignore[union-attr]
                without[site][gi] = effect
        inactive = {"primary": _norm(base + lfc_p - without["primary"]),
                    "liver_metastasis": _norm(base + lfc_m - without["liver_metastasis"])}

    def tumour(j: int, site: str) -> np.ndarray:
        """Sample ``j``'s tumour (or normal tissue) profile: without the layer's programme where it is inactive."""
        return tissue[site] if carries[j] or site not in inactive else inactive[site]

    draws: HostDraws | None = None
    if host is None:
        frac = np.where(is_met, r_sample.uniform(*design.liver.fraction_range, size=n_s), 0.0)
        prop = np.column_stack([(1 - frac[j]) * tumour(j, site) + frac[j] * liver_prop
                                for j, site in enumerate(samples["site"])])
    else:
        assert model is not None
        draws = draw_hosts(samples["site"].tolist(), host, model, r_draw)
        frac = draws.fraction
        prop = np.column_stack([(1 - frac[j]) * tumour(j, site) + frac[j] * draws.profiles[:, j]
                                for j, site in enumerate(samples["site"])])
    mixed = prop

    # --- nuisance effects -----------------------------------------------------------------------------------------
    n_g = len(genes)
    patients = list(dict.fromkeys(samples["patient"]))
    has_pe = r_patient.random(n_g) < design.patient_effect_fraction
    pe = r_patient.normal(0.0, design.patient_effect_sd, size=(n_g, len(patients))) * has_pe[:, None]
    has_be = r_batch.random(n_g) < design.batch_effect_fraction
    be = r_batch.normal(0.0, design.batch_effect_sd, size=n_g) * has_be
    p_col = samples["patient"].map({p: i for i, p in enumerate(patients)}).to_numpy()
    b2 = (samples["batch"] == "b2").to_numpy()
    log_eff = pe[:, p_col] + np.outer(be, b2.astype(float))
    prop = prop * np.exp2(log_eff)
    prop = prop / prop.sum(axis=0, keepdims=True)
    mu = prop * depth[None, :]

    # --- dispersion and counts ------------------------------------------------------------------------------------
    mean_g = mu.mean(axis=1)
    disp = (design.dispersion_asymptotic + design.dispersion_extra_poisson / np.maximum(mean_g, 1e-3))
    disp = np.minimum(disp * np.exp(r_disp.normal(0.0, design.dispersion_scatter_sd, size=n_g)),
                      design.max_dispersion)
    shape = 1.0 / disp[:, None]
    lam = r_counts.gamma(shape=np.broadcast_to(shape, mu.shape), scale=mu * disp[:, None])
    counts = r_counts.poisson(lam).astype(np.int64)

    # --- expected observed LFCs after admixture (no nuisance), normalised on null genes ---------------------------
    null_mask = np.array([not lab for lab in labels])
    ref = tissue["normal_pancreas"]

    def _norm_lfc(p: np.ndarray) -> np.ndarray:
        lr = np.log2(p / ref)
        return lr - np.median(lr[null_mask])

    if host is None:
        obs_p = _norm_lfc(tissue["primary"])
        met_fracs = frac[is_met]
        obs_m = (np.mean([_norm_lfc((1 - f) * tissue["liver_metastasis"] + f * liver_prop) for f in met_fracs],
                         axis=0) if len(met_fracs) else _norm_lfc(tissue["liver_metastasis"]))
    else:
        is_pri = (samples["site"] == "primary").to_numpy()
        obs_p = (np.mean([_norm_lfc(mixed[:, j]) for j in np.flatnonzero(is_pri)], axis=0) if is_pri.any()
                 else _norm_lfc(tissue["primary"]))
        obs_m = (np.mean([_norm_lfc(mixed[:, j]) for j in np.flatnonzero(is_met)], axis=0) if is_met.any()
                 else _norm_lfc(tissue["liver_metastasis"]))
        art_m, art_p = obs_m - lfc_m, obs_p - lfc_p
        for gi in np.flatnonzero(np.abs(art_m) >= host.artefact_log2):
            labels[gi].append("liver_admixture")
        if host.pancreas is not None:
            for gi in np.flatnonzero(np.abs(art_p) >= host.artefact_log2):
                labels[gi].append("exocrine_admixture")

    if clinical is not None:  # the sheet carries the clinical columns; the truth says which tumours are active
        samples = samples.join(clinical)

    # --- subsample rows -------------------------------------------------------------------------------------------
    keep = np.arange(n_g)
    if design.subsample is not None:
        keep = subsample_rows(genes, design, info, members_of, labels, liver_idx, base, r_sub)

    sample_names = samples["sample"].tolist()
    counts_df = pd.DataFrame(counts[keep], index=pd.Index(genes["gene_id"].to_numpy()[keep], name="gene_id"),
                             columns=sample_names)
    truth_genes = truth_genes_table(genes, keep, labels, lfc_p, lfc_m, obs_p, obs_m, base,
                                    with_primary=host is not None)
    if host is None:
        admixture = [legacy_admixture_row(keep, design, liver_idx, obs_m, obs_p)]
    else:
        admixture = _host_rows(keep, labels, host, art_m, art_p)
    truth_programmes = truth_programmes_table(info, members_of, keep, design, admixture)
    active_column: dict[str, np.ndarray] = {}
    if layer is not None:  # a tumour carries the programme where the layer leaves it and its site has an effect
        moved = {site: any(v != 0 for v in own[key].values())  # type: ignore[union-attr]
                 for site, key in (("primary", "own_p"), ("liver_metastasis", "own_m"))}
        site_moved = np.array([moved.get(site, False) for site in samples["site"]], dtype=bool)
        active_column = {f"{layer.programme}_active": np.where(
            samples["site"].isin(list(moved)), np.where(carries & site_moved, "yes", "no"), "")}
    library_size = counts_df.sum(axis=0).to_numpy()
    if host is None:
        truth_samples = samples.assign(**active_column, liver_fraction=np.round(frac, 4),
                                       depth=np.round(depth).astype(np.int64), library_size=library_size)
        return SimulatedCohort(counts=counts_df, samples=samples, truth_genes=truth_genes,
                               truth_programmes=truth_programmes, truth_samples=truth_samples)

    assert draws is not None and model is not None
    share = np.divide(frac[None, :] * draws.profiles, mixed, out=np.zeros_like(mixed), where=mixed > 0)
    is_pri = (samples["site"] == "primary").to_numpy()
    truth_samples = samples.assign(
        **active_column,
        liver_fraction=np.round(np.where(is_met, frac, 0.0), 4),
        exocrine_fraction=np.round(np.where(is_pri, frac, 0.0), 4),
        host_fraction=np.round(frac, 4), host_tissue=[t or "none" for t in draws.tissue],
        **{c: np.round(draws.mix[c].to_numpy(), 4) for c in draws.mix.columns},
        depth=np.round(depth).astype(np.int64), library_size=library_size)
    host_share = pd.DataFrame(np.round(share[keep], 5), index=counts_df.index, columns=sample_names)
    return SimulatedCohort(counts=counts_df, samples=samples, truth_genes=truth_genes,
                           truth_programmes=truth_programmes, truth_samples=truth_samples,
                           truth_host_genes=truth_host_genes(genes, keep, host, model, draws, share, disp, tissue),
                           host_share=host_share)


def _host_rows(keep: np.ndarray, labels: list[list[str]], host: HostAdmixture, art_m: np.ndarray,
               art_p: np.ndarray) -> list[dict[str, object]]:
    """The ``liver_admixture`` and ``exocrine_admixture`` rows of ``truth_programmes`` (host model)."""
    liver = [int(i) for i in keep if "liver_admixture" in labels[i]]
    lo, hi = host.liver.fraction_range
    rows = [host_admixture_row(
        "liver_admixture", "metastasis_contamination", liver,
        {"liver_met_vs_normal": art_m, "liver_met_vs_primary": art_m - art_p},
        f"genes moved by >= {host.artefact_log2:g} log2 in metastases by liver admixture alone (HPA v23 liver "
        f"host, fraction {lo:g}-{hi:g}); not tumour biology")]
    if host.pancreas is not None:
        exo = [int(i) for i in keep if "exocrine_admixture" in labels[i]]
        lo, hi = host.pancreas.fraction_range
        rows.append(host_admixture_row(
            "exocrine_admixture", "primary_contamination", exo,
            {"primary_vs_normal": art_p, "liver_met_vs_primary": art_m - art_p},
            f"genes moved by >= {host.artefact_log2:g} log2 in primaries by exocrine-pancreas admixture alone "
            f"(fraction {lo:g}-{hi:g}); not tumour biology"))
    return rows

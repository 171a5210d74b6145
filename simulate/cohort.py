"""Seeded simulator of bulk RNA-seq tumour cohorts with planted, documented effects.

The simulator produces negative-binomial gene counts for a cohort of pancreatic neuroendocrine neoplasm (pNEN)
samples (adjacent normal pancreas, primary tumours, liver metastases) with:

* a realistic spread of baseline expression (many lowly expressed genes, a few very high ones),
* a DESeq2-like mean-dispersion trend (``dispersion = (a0 + a1 / mean) x lognormal scatter``),
* per-sample sequencing depths, a small per-patient random effect and a batch effect on subsets of genes,
* planted programmes (gene sets whose members get gene-specific log2 fold changes in tumours), and
* liver-tissue admixture in metastases: each metastasis is a mixture ``(1 - f) * tumour + f * liver``, so that
  hepatocyte genes come out "up in metastases" through contamination alone.

Everything random is drawn from ``numpy.random.default_rng(seed)`` (and generators spawned from it), so the same
inputs and seed give identical output. All functions are pure: they read nothing from disk and write nothing.

Site labels are ``normal_pancreas``, ``primary`` and ``liver_metastasis``; the three default contrasts are
``primary_vs_normal``, ``liver_met_vs_normal`` and ``liver_met_vs_primary``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from target_rationale.genesets.gmt import GeneSet

__all__ = [
    "SITES",
    "CONTRASTS",
    "ACINAR_GENES",
    "EXOCRINE_DUCTAL_GENES",
    "NEUROENDOCRINE_GENES",
    "HEPATOCYTE_GENES",
    "HEPATOCYTE_CORE_GENES",
    "TRANSCRIPTIONAL_MISREGULATION_GENES",
    "TARGET_AXIS_GENES",
    "Programme",
    "LiverAdmixture",
    "Subsample",
    "CohortDesign",
    "SimulatedCohort",
    "prepare_gene_table",
    "sample_sheet",
    "pnen_programmes",
    "demo_design",
    "tiny_design",
    "simulate_cohort",
]

#: Site labels, in the order normal, primary, metastasis.
SITES: tuple[str, str, str] = ("normal_pancreas", "primary", "liver_metastasis")

#: Default contrasts: name -> (numerator site, denominator site).
CONTRASTS: dict[str, tuple[str, str]] = {
    "primary_vs_normal": ("primary", "normal_pancreas"),
    "liver_met_vs_normal": ("liver_metastasis", "normal_pancreas"),
    "liver_met_vs_primary": ("liver_metastasis", "primary"),
}

_SAMPLE_SUFFIX = {"normal_pancreas": "normal", "primary": "primary", "liver_metastasis": "liver_met"}

#: Acinar (exocrine) enzymes: very high in normal pancreas, lost in tumours.
ACINAR_GENES: tuple[str, ...] = (
    "PRSS1", "PRSS2", "PRSS3", "CPA1", "CPA2", "CPB1", "CELA2A", "CELA2B", "CELA3A", "CELA3B", "CTRB1", "CTRB2",
    "CTRC", "CTRL", "PNLIP", "PNLIPRP1", "PNLIPRP2", "CEL", "PLA2G1B", "CLPS", "SPINK1", "REG1A", "GP2", "CUZD1",
    "SYCN",
)

#: Exocrine differentiation (acinar transcription factors) and ductal genes of normal pancreas, lost in tumours.
EXOCRINE_DUCTAL_GENES: tuple[str, ...] = (
    "PTF1A", "RBPJL", "NR5A2", "BHLHA15", "GATA4", "CFTR", "SLC4A4", "CA2", "SOX9", "ONECUT1", "HNF1B", "AQP8",
    "AQP12A", "SERPINI2", "PDIA2", "ERP27", "GATM", "REG1B", "REG3A", "REG3G", "TFF2", "KLK1", "CELA1", "TMED6",
)

#: Neuroendocrine markers: moderate in normal pancreas (islets), high in pNENs.
NEUROENDOCRINE_GENES: tuple[str, ...] = (
    "CHGA", "CHGB", "SCG2", "SCG3", "SCG5", "SYP", "INSM1", "NEUROD1", "ENO2", "PCSK1", "PCSK2", "SNAP25", "SYT1",
)

#: Hepatocyte signature: very high in liver tissue, near zero in pancreas and tumour.
HEPATOCYTE_GENES: tuple[str, ...] = (
    "ALB", "APOA1", "APOA2", "APOB", "APOC3", "APOH", "APOA5", "FGA", "FGB", "FGG", "AHSG", "TF", "GC", "HP", "HPX",
    "HRG", "SERPINA1", "SERPINC1", "TTR", "RBP4", "ORM1", "ORM2", "AMBP", "KNG1", "F2", "ITIH1", "ITIH2", "CYP2E1",
    "CYP3A4", "CYP2C8", "CYP2C9", "CYP1A2", "C8A", "C8B", "MAT1A", "AGXT",
)

#: The 20 best-known hepatocyte genes (the tiny cohort's liver signature).
HEPATOCYTE_CORE_GENES: tuple[str, ...] = (
    "ALB", "APOA1", "APOA2", "APOB", "APOC3", "APOH", "FGA", "FGB", "FGG", "AHSG", "TF", "GC", "HP", "HPX",
    "SERPINA1", "TTR", "RBP4", "ORM1", "CYP2E1", "CYP3A4",
)

#: "Transcriptional misregulation in cancer": fusion partners and oncogenic transcription factors (hand-picked,
#: in the spirit of KEGG hsa05202, which is not redistributable).
TRANSCRIPTIONAL_MISREGULATION_GENES: tuple[str, ...] = (
    "MYC", "MYCN", "RUNX1", "RUNX1T1", "RUNX2", "ETV1", "ETV4", "ETV5", "ETV6", "ERG", "FLI1", "EWSR1", "PAX3",
    "PAX7", "PAX8", "FOXO1", "KMT2A", "MLLT3", "AFF1", "MLLT1", "MLLT10", "HOXA9", "HOXA10", "MEIS1", "PBX1", "LMO2",
    "TAL1", "LYL1", "DDIT3", "FUS", "NR4A3", "ID2", "CEBPA", "CEBPB", "SPI1", "BCL6", "ZBTB16", "RARA", "PML",
    "NUP98", "TLX1", "WT1", "ATF1", "SS18", "TFE3", "MAF",
)

#: Receptors and ligands of the four target axes (EGFR, VEGFR, FGFR, CSF1R), plus the TAM markers.
TARGET_AXIS_GENES: tuple[str, ...] = (
    "EGFR", "ERBB2", "ERBB3", "ERBB4", "EGF", "TGFA", "AREG", "EREG", "HBEGF",
    "FLT1", "KDR", "FLT4", "VEGFA", "VEGFC", "PGF",
    "FGFR1", "FGFR2", "FGF2",
    "CSF1R", "CSF1", "IL34", "CD68", "CD163", "MRC1",
)


@dataclass(frozen=True)
class Programme:
    """One planted, tumour-intrinsic expression programme.

    Attributes
    ----------
    name : str
        Programme label used in the truth tables (e.g. ``egfr_axis``).
    description : str
        One line for the README.
    groups : str
        Which tumour groups carry the effect: ``both_tumours``, ``both_tumours_stronger_in_metastases`` or
        ``metastasis_only``.
    lfc_primary, lfc_liver_met : float
        Mean log2 fold change of the perturbed genes in primaries and in (the tumour part of) liver metastases,
        relative to normal pancreas.
    go_ids : tuple of str
        Candidate gene-set ids; the first one present in the gene-set collection supplies the set members, of which
        a random ``fraction_perturbed`` is perturbed. Empty for purely hand-picked programmes.
    core_genes : tuple of str
        Hand-picked genes that are always perturbed (target receptors and ligands, markers). A gene that is a core
        gene of any programme is never perturbed as a mere set member of another programme.
    fraction_perturbed : float
        Fraction of the set members (not core genes) that are perturbed.
    lfc_sd : float
        Standard deviation of the gene-specific log2 fold changes around ``lfc_primary`` (or ``lfc_liver_met`` for
        metastasis-only programmes); the metastasis effect of a gene is its primary effect scaled by
        ``lfc_liver_met / lfc_primary``.
    core_baseline_log2cpm : tuple of float or None
        If given, the baseline (normal pancreas) expression of the core genes is drawn uniformly from this range of
        log2 counts per million instead of the genome-wide distribution.
    liver_offset : float
        log2 offset of the core genes' expression in liver tissue relative to normal pancreas (e.g. -8 for acinar
        enzymes, which liver does not make).
    keep_core_in_subsample : bool
        Whether a subsampled cohort keeps every core gene (True) or subsamples them like set members (False).
    """

    name: str
    description: str
    groups: str
    lfc_primary: float
    lfc_liver_met: float
    go_ids: tuple[str, ...] = ()
    core_genes: tuple[str, ...] = ()
    fraction_perturbed: float = 0.7
    lfc_sd: float = 0.3
    core_baseline_log2cpm: tuple[float, float] | None = None
    liver_offset: float = 0.0
    keep_core_in_subsample: bool = True


@dataclass(frozen=True)
class LiverAdmixture:
    """Normal liver tissue mixed into every liver metastasis.

    Attributes
    ----------
    genes : tuple of str
        Hepatocyte signature genes.
    fraction_range : tuple of float
        Each metastasis has liver-tissue fraction ``f ~ U(low, high)`` (fraction of the RNA).
    liver_log2cpm : tuple of float
        Expression of the signature genes in liver tissue, log2 CPM, drawn uniformly from this range.
    pancreas_log2cpm : tuple of float
        Expression of the signature genes in pancreas and tumour, log2 CPM (near zero).
    """

    genes: tuple[str, ...] = HEPATOCYTE_GENES
    fraction_range: tuple[float, float] = (0.05, 0.30)
    liver_log2cpm: tuple[float, float] = (9.0, 14.0)
    pancreas_log2cpm: tuple[float, float] = (-4.0, -1.0)


@dataclass(frozen=True)
class Subsample:
    """Keep a small, deterministic subset of the simulated genes (for test cohorts).

    Attributes
    ----------
    always_include : tuple of str
        Symbols always kept (target-axis genes).
    max_members_per_programme : int
        At most this many set members (and core genes of programmes with ``keep_core_in_subsample=False``) kept
        per programme, drawn at random.
    n_null : int
        Number of genes without any planted effect kept, drawn at random; all but ``n_null_any`` of them among the
        genes with baseline expression of at least ``null_min_log2cpm`` (so that most null genes are expressed and
        anchor the median-of-ratios normalisation).
    n_null_any : int
        Number of the null genes drawn from all null genes regardless of expression (lowly expressed ones included).
    null_min_log2cpm : float
        Baseline expression threshold for the other null genes.
    """

    always_include: tuple[str, ...] = TARGET_AXIS_GENES
    max_members_per_programme: int = 8
    n_null: int = 320
    n_null_any: int = 40
    null_min_log2cpm: float = 1.0


@dataclass(frozen=True)
class CohortDesign:
    """Everything that defines a simulated cohort except the gene universe, the gene sets and the seed.

    Attributes
    ----------
    name : str
        Preset name (``demo``, ``tiny``).
    patients : tuple of (str, tuple of str)
        ``(patient, sites)`` pairs in output order; sites from :data:`SITES`. Batches alternate ``b1``/``b2`` over
        patients in this order.
    programmes : tuple of Programme
        Planted tumour-intrinsic programmes.
    liver : LiverAdmixture
        Liver contamination of metastases.
    depth_range : tuple of float
        Sequencing depth (total reads over the full transcriptome) per sample, ``U(low, high)``.
    expressed_fraction : float
        Fraction of genes drawn from the "expressed" mode of the baseline distribution; the rest from the "low" mode.
    expressed_log2cpm, low_log2cpm : tuple of float
        ``(mean, sd)`` of the two normal modes of baseline log2 CPM.
    log2cpm_clip : tuple of float
        Baseline log2 CPM is clipped to this range.
    dispersion_asymptotic, dispersion_extra_poisson : float
        Mean-dispersion trend ``a0 + a1 / mean`` (mean = average expected count of the gene).
    dispersion_scatter_sd : float
        Standard deviation of the lognormal scatter (natural log) of gene dispersions around the trend.
    max_dispersion : float
        Upper cap on dispersions.
    patient_effect_fraction, patient_effect_sd : float
        Fraction of genes with a per-patient random effect, and its sd (log2).
    batch_effect_fraction, batch_effect_sd : float
        Fraction of genes with a batch effect (``b2`` vs ``b1``), and its sd (log2).
    subsample : Subsample or None
        If given, only a subset of the simulated genes is returned.
    """

    name: str
    patients: tuple[tuple[str, tuple[str, ...]], ...]
    programmes: tuple[Programme, ...]
    liver: LiverAdmixture = field(default_factory=LiverAdmixture)
    depth_range: tuple[float, float] = (15e6, 40e6)
    expressed_fraction: float = 0.68
    expressed_log2cpm: tuple[float, float] = (3.5, 2.0)
    low_log2cpm: tuple[float, float] = (-4.0, 2.0)
    log2cpm_clip: tuple[float, float] = (-7.0, 13.0)
    dispersion_asymptotic: float = 0.03
    dispersion_extra_poisson: float = 1.5
    dispersion_scatter_sd: float = 0.5
    max_dispersion: float = 10.0
    patient_effect_fraction: float = 0.3
    patient_effect_sd: float = 0.25
    batch_effect_fraction: float = 0.1
    batch_effect_sd: float = 0.4
    subsample: Subsample | None = None


@dataclass(frozen=True)
class SimulatedCohort:
    """A simulated cohort and its truth.

    Attributes
    ----------
    counts : DataFrame
        Integer counts, genes x samples; index ``gene_id`` (sorted), columns = sample names.
    samples : DataFrame
        Sample sheet: ``sample, patient, site, batch``.
    truth_genes : DataFrame
        One row per gene with a planted effect: ``gene_id, symbol, programme, lfc_primary_vs_normal,
        lfc_liver_met_vs_normal, lfc_liver_met_vs_primary`` (tumour-intrinsic log2 fold changes; 0 for
        ``liver_admixture`` genes), then ``expected_lfc_liver_met_vs_normal`` and
        ``expected_lfc_liver_met_vs_primary`` (what the metastases show after liver admixture, averaged over the
        cohort's metastases), and ``baseline_log2cpm``.
    truth_programmes : DataFrame
        One row per programme: ``programme, source, groups, direction, mean_lfc_primary, mean_lfc_liver_met,
        n_genes_perturbed, n_set_members, expected_class, expected_contrasts``.
    truth_samples : DataFrame
        ``sample, patient, site, batch, liver_fraction, depth, library_size``.
    """

    counts: pd.DataFrame
    samples: pd.DataFrame
    truth_genes: pd.DataFrame
    truth_programmes: pd.DataFrame
    truth_samples: pd.DataFrame


# ----------------------------------------------------------------------------------------------------------------
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
        P13-P14: metastasis only. ``~ patient + site`` is full rank; batches alternate over patients.
    """
    all3 = ("normal_pancreas", "primary", "liver_metastasis")
    pm = ("primary", "liver_metastasis")
    patients = tuple(
        (f"P{i:02d}", all3 if i <= 4 else pm if i <= 10 else ("primary",) if i <= 12 else ("liver_metastasis",))
        for i in range(1, 15)
    )
    return CohortDesign(name="demo", patients=patients, programmes=pnen_programmes())


def tiny_design() -> CohortDesign:
    """The shipped tiny test cohort: 12 samples (T1-T4 with normal, primary, metastasis), ~490 genes.

    Returns
    -------
    CohortDesign
        Same programmes as :func:`demo_design`, with a :class:`Subsample` keeping every target-axis gene, the
        20 core hepatocyte genes, the acinar, exocrine and neuroendocrine genes, up to 8 members per planted set and
        320 null genes (mostly expressed ones). Acinar and hepatocyte genes are set lower than in the demo so that
        they do not swamp the small libraries.
    """
    all3 = ("normal_pancreas", "primary", "liver_metastasis")
    # with only ~500 genes kept, acinar and hepatocyte genes at whole-transcriptome levels would take most of the
    # reads of normal samples and metastases; lower them so that the other genes keep useful counts
    programmes = tuple(replace(p, core_baseline_log2cpm=(5.5, 8.5)) if p.name == "acinar_loss" else p
                       for p in pnen_programmes())
    return CohortDesign(name="tiny", patients=tuple((f"T{i}", all3) for i in range(1, 5)), programmes=programmes,
                        liver=LiverAdmixture(genes=HEPATOCYTE_CORE_GENES, liver_log2cpm=(6.5, 10.5)),
                        subsample=Subsample())


# ----------------------------------------------------------------------------------------------------------------
# Gene universe
# ----------------------------------------------------------------------------------------------------------------


def prepare_gene_table(gene_map: pd.DataFrame, gene_type: str = "protein-coding") -> pd.DataFrame:
    """One row per gene: protein-coding genes with one Ensembl id per symbol and one symbol per Ensembl id.

    Parameters
    ----------
    gene_map : DataFrame
        Columns ``ensembl_gene_id, symbol, gene_type`` (others ignored).
    gene_type : str
        Value of ``gene_type`` to keep.

    Returns
    -------
    DataFrame
        Columns ``gene_id, symbol``, sorted by ``gene_id``. Version suffixes are stripped. Where an Ensembl id has
        several symbols, a symbol without ``-`` and not starting with ``LOC`` is preferred, then the first in
        alphabetical order; where a symbol has several Ensembl ids, the smallest id is kept.
    """
    df = gene_map.loc[gene_map["gene_type"] == gene_type, ["ensembl_gene_id", "symbol"]].dropna()
    df = df.astype(str)
    df["gene_id"] = df["ensembl_gene_id"].str.replace(r"\.\d+$", "", regex=True)
    df = df[df["gene_id"].str.match(r"^ENSG\d+$") & (df["symbol"].str.len() > 0)]
    df["_odd"] = df["symbol"].str.contains("-") | df["symbol"].str.startswith("LOC")
    df = df.sort_values(["gene_id", "_odd", "symbol"], kind="mergesort").drop_duplicates("gene_id")
    df = df.sort_values(["symbol", "gene_id"], kind="mergesort").drop_duplicates("symbol")
    return df[["gene_id", "symbol"]].sort_values("gene_id", kind="mergesort").reset_index(drop=True)


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


def simulate_cohort(genes: pd.DataFrame, gene_sets: Mapping[str, GeneSet | Sequence[str]], design: CohortDesign,
                    seed: int) -> SimulatedCohort:
    """Simulate a cohort of bulk RNA-seq gene counts with planted programmes and liver admixture.

    Parameters
    ----------
    genes : DataFrame
        Gene universe, columns ``gene_id, symbol`` (one row per gene, unique ids and symbols), e.g. from
        :func:`prepare_gene_table`.
    gene_sets : mapping of str to GeneSet or list of str
        Gene sets by id (e.g. GO BP from :func:`target_rationale.genesets.read_gmt`); must hold one of each
        programme's ``go_ids``. Members not in ``genes`` are ignored.
    design : CohortDesign
        Samples, programmes and noise model.
    seed : int
        Seed for ``numpy.random.default_rng``; same inputs and seed give identical output.

    Returns
    -------
    SimulatedCohort
        Counts, sample sheet and truth tables.

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
    """
    if genes["gene_id"].duplicated().any() or genes["symbol"].duplicated().any():
        raise ValueError("genes: gene_id and symbol must both be unique")
    genes = genes[["gene_id", "symbol"]].sort_values("gene_id", kind="mergesort").reset_index(drop=True)
    samples = sample_sheet(design)
    rng = np.random.default_rng(seed)
    r_prog, r_base, r_sample, r_patient, r_batch, r_disp, r_counts, r_sub = rng.spawn(8)

    # --- tumour programmes and baseline -------------------------------------------------------------------------
    lfc_p, lfc_m, labels, info, members_of = _assign_programmes(genes, gene_sets, design.programmes,
                                                                design.liver.genes, r_prog)
    base = _baseline(genes, design, r_base)
    symbol_index = {s: i for i, s in enumerate(genes["symbol"])}
    liver_idx = np.array(sorted(symbol_index[g] for g in design.liver.genes if g in symbol_index), dtype=int)
    base[liver_idx] = r_base.uniform(*design.liver.pancreas_log2cpm, size=len(liver_idx))
    liver = base.copy()
    for prog in design.programmes:
        if prog.liver_offset:
            idx = [symbol_index[g] for g in prog.core_genes if g in symbol_index]
            liver[idx] += prog.liver_offset
    liver[liver_idx] = r_base.uniform(*design.liver.liver_log2cpm, size=len(liver_idx))
    for gi in liver_idx:
        labels[gi].append("liver_admixture")

    tissue = {"normal_pancreas": _norm(base), "primary": _norm(base + lfc_p), "liver_metastasis": _norm(base + lfc_m)}
    liver_prop = _norm(liver)

    # --- samples --------------------------------------------------------------------------------------------------
    n_s = len(samples)
    depth = r_sample.uniform(*design.depth_range, size=n_s)
    is_met = (samples["site"] == "liver_metastasis").to_numpy()
    frac = np.where(is_met, r_sample.uniform(*design.liver.fraction_range, size=n_s), 0.0)
    prop = np.column_stack([(1 - frac[j]) * tissue[site] + frac[j] * liver_prop
                            for j, site in enumerate(samples["site"])])

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

    obs_p = _norm_lfc(tissue["primary"])
    met_fracs = frac[is_met]
    obs_m = (np.mean([_norm_lfc((1 - f) * tissue["liver_metastasis"] + f * liver_prop) for f in met_fracs], axis=0)
             if len(met_fracs) else _norm_lfc(tissue["liver_metastasis"]))

    # --- subsample rows -------------------------------------------------------------------------------------------
    keep = np.arange(n_g)
    if design.subsample is not None:
        keep = _subsample(genes, design, info, members_of, labels, liver_idx, base, r_sub)

    sample_names = samples["sample"].tolist()
    counts_df = pd.DataFrame(counts[keep], index=pd.Index(genes["gene_id"].to_numpy()[keep], name="gene_id"),
                             columns=sample_names)
    truth_genes = _truth_genes(genes, keep, labels, lfc_p, lfc_m, obs_p, obs_m, base)
    truth_programmes = _truth_programmes(info, members_of, keep, lfc_p, lfc_m, design, liver_idx, obs_m, obs_p)
    truth_samples = samples.assign(liver_fraction=np.round(frac, 4), depth=np.round(depth).astype(np.int64),
                                   library_size=counts_df.sum(axis=0).to_numpy())
    return SimulatedCohort(counts=counts_df, samples=samples, truth_genes=truth_genes,
                           truth_programmes=truth_programmes, truth_samples=truth_samples)


def _subsample(genes: pd.DataFrame, design: CohortDesign, info: list[dict[str, object]],
               members_of: dict[str, list[int]], labels: list[list[str]], liver_idx: np.ndarray, base: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
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


def _truth_genes(genes: pd.DataFrame, keep: np.ndarray, labels: list[list[str]], lfc_p: np.ndarray,
                 lfc_m: np.ndarray, obs_p: np.ndarray, obs_m: np.ndarray, base: np.ndarray) -> pd.DataFrame:
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
    num = df.columns[3:]
    df[num] = df[num].round(4) + 0.0  # + 0.0 turns -0.0 into 0.0
    return df.reset_index(drop=True)


def _contrast_calls(lp: float, lm: float, tol: float = 0.25) -> tuple[str, str]:
    values = {"primary_vs_normal": lp, "liver_met_vs_normal": lm, "liver_met_vs_primary": lm - lp}
    calls = [f"{c}:{'up' if v > 0 else 'down'}" for c, v in values.items() if abs(v) >= tol]
    tumour = [c for c in ("primary_vs_normal", "liver_met_vs_normal") if abs(values[c]) >= tol]
    klass = "shared" if len(tumour) == 2 else f"unique:{tumour[0]}" if tumour else "none"
    return klass, ";".join(calls)


def _truth_programmes(info: list[dict[str, object]], members_of: dict[str, list[int]], keep: np.ndarray,
                      lfc_p: np.ndarray, lfc_m: np.ndarray, design: CohortDesign, liver_idx: np.ndarray,
                      obs_m: np.ndarray, obs_p: np.ndarray) -> pd.DataFrame:
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
        klass, calls = _contrast_calls(prog.lfc_primary, prog.lfc_liver_met)
        rows.append({
            "programme": prog.name, "source": item["source"], "groups": prog.groups, "direction": item["direction"],
            "mean_lfc_primary": mean_p, "mean_lfc_liver_met": mean_m,
            "n_genes_perturbed": len(pert),
            "n_set_members": len([i for i in members_of[prog.name] if i in kept]),
            "expected_class": klass, "expected_contrasts": calls, "description": item["description"],
        })
    liv = [i for i in liver_idx.tolist() if i in kept]
    lm = float(np.mean(obs_m[liv])) if liv else 0.0
    lmp = float(np.mean(obs_m[liv] - obs_p[liv])) if liv else 0.0
    calls = f"liver_met_vs_normal:up (artefact, mean observed {lm:.1f});liver_met_vs_primary:up (artefact, mean " \
            f"observed {lmp:.1f})"
    rows.append({
        "programme": "liver_admixture", "source": "hand-picked list", "groups": "metastasis_contamination",
        "direction": "up", "mean_lfc_primary": 0.0, "mean_lfc_liver_met": 0.0, "n_genes_perturbed": len(liv),
        "n_set_members": 0, "expected_class": "artefact:liver_admixture", "expected_contrasts": calls,
        "description": "hepatocyte genes from normal liver tissue mixed into metastases (liver fraction "
                       f"{design.liver.fraction_range[0]:g}-{design.liver.fraction_range[1]:g}); not tumour biology",
    })
    return pd.DataFrame(rows)

"""The dataclasses that define a simulated cohort (:class:`CohortDesign`) and hold its output
(:class:`SimulatedCohort`), including the opt-in host-tissue admixture model (:class:`HostAdmixture`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd

from simulate.genes import HEPATOCYTE_GENES, TARGET_AXIS_GENES
from simulate.patients import PatientLayer

__all__ = [
    "ISLET_HORMONE_GENES",
    "PANCREAS_EXOCRINE",
    "Programme",
    "LiverAdmixture",
    "Subsample",
    "HostTissue",
    "HostAdmixture",
    "LIVER_HOST",
    "EXOCRINE_HOST",
    "CohortDesign",
    "SimulatedCohort",
]

#: Name of the derived host profile "pancreas tissue minus its islet part" (see :class:`HostAdmixture`).
PANCREAS_EXOCRINE = "pancreas_exocrine"

#: Islet hormone genes: tumour genes of a pNEN, taken out of the exocrine host profile whatever the reference says
#: (HPA v23's pancreatic endocrine cells have no SST, so the per-gene islet share cannot remove it).
ISLET_HORMONE_GENES: tuple[str, ...] = ("INS", "GCG", "SST", "PPY", "IAPP", "GHRL")


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
class HostTissue:
    """A host tissue as a per-sample mix of reference profiles.

    Attributes
    ----------
    name : str
        Label in the truth tables (``liver``, ``exocrine_pancreas``).
    components : tuple of (str, float)
        ``(profile, mean proportion)`` pairs: a profile of the host reference (``liver``, ``hepatocytes``, ...) or
        :data:`PANCREAS_EXOCRINE`; proportions are shares of the host tissue's RNA and must sum to 1.
    concentration : float
        Dirichlet concentration: each sample's cell mix is ``Dirichlet(concentration x proportions)`` (larger is
        closer to the mean proportions; 30 gives the dominant component an sd of about 0.09).
    fraction_range : tuple of float
        Each sample of the site carries host fraction ``U(low, high)`` (share of the sample's RNA).
    """

    name: str
    components: tuple[tuple[str, float], ...]
    concentration: float = 30.0
    fraction_range: tuple[float, float] = (0.05, 0.5)

    def __post_init__(self) -> None:
        total = sum(p for _, p in self.components)
        if not self.components or abs(total - 1.0) > 1e-6 or any(p <= 0 for _, p in self.components):
            raise ValueError(f"host tissue {self.name}: component proportions must be > 0 and sum to 1; got "
                             f"{self.components}")
        low, high = self.fraction_range
        if not 0.0 <= low <= high < 1.0:
            raise ValueError(f"host tissue {self.name}: need 0 <= low <= high < 1; got {self.fraction_range}")
        if self.concentration <= 0:
            raise ValueError(f"host tissue {self.name}: concentration must be > 0; got {self.concentration}")

    @property
    def profiles(self) -> tuple[str, ...]:
        """The component profiles, in order."""
        return tuple(p for p, _ in self.components)

    @property
    def proportions(self) -> tuple[float, ...]:
        """The mean proportions, in order."""
        return tuple(w for _, w in self.components)


#: Normal liver around a metastasis. RNA shares, not cell counts: hepatocytes are about 60% of liver cells but,
#: being large and busy, make most of its RNA. The ``liver`` TISSUE profile stands for what HPA's cell classes miss
#: (HPA v23 has no liver sinusoidal endothelial or stellate class: CLEC4G, STAB2, FCN2/3, OIT3, COLEC11 and RELN
#: are only in the tissue profile); ``endothelial_cells`` is HPA's pan-tissue class (vascular endothelium, KDR).
LIVER_HOST = HostTissue(
    name="liver",
    components=(("hepatocytes", 0.60), ("liver", 0.20), ("kupffer_cells", 0.08), ("endothelial_cells", 0.04),
                ("cholangiocytes", 0.04), ("fibroblasts", 0.04)),
    concentration=30.0, fraction_range=(0.05, 0.5))

#: Exocrine pancreas around a primary: mostly the pancreas tissue profile minus its islet part
#: (:data:`PANCREAS_EXOCRINE`, so the host matches the cohort's normal pancreas samples, which are that tissue),
#: with HPA's acinar (``exocrine_glandular_cells``) and ``ductal_cells`` classes varying the mix. Neither class carries
#: the acinar enzymes as the tissue does (11.7% and 0.07% of their reads on the exocrine anchors, against the
#: tissue's 70%), so at the mean mix 0.54 of the host's reads are on the anchors, not 0.70: an anchor-based fraction
#: reads this host about 0.78x low (``benchmarks/admixture_fraction_bias.py``).
EXOCRINE_HOST = HostTissue(
    name="exocrine_pancreas",
    components=((PANCREAS_EXOCRINE, 0.75), ("exocrine_glandular_cells", 0.10), ("ductal_cells", 0.15)),
    concentration=30.0, fraction_range=(0.0, 0.2))


@dataclass(frozen=True)
class HostAdmixture:
    """Host tissue from the real HPA v23 reference mixed into tumours (opt-in; see :class:`CohortDesign`).

    With this model the cohort is anchored on the reference: the normal pancreas baseline is the (perturbed)
    pancreas TISSUE profile, tumours are that baseline times the planted programmes (so the tumour's own
    expression of EGFR, KDR, CSF1R, INS, GCG, CHGA, SST, ... is never zero), a liver metastasis is
    ``(1 - f) x tumour + f x liver host`` and a primary ``(1 - g) x tumour + g x exocrine host``, where each host
    is a per-sample Dirichlet mix of its :class:`HostTissue` components.

    Attributes
    ----------
    liver : HostTissue
        Host of liver metastases.
    pancreas : HostTissue or None
        Host of primaries (None: primaries are pure tumour).
    perturbation_sd : float
        sd (natural log) of the per-gene lognormal perturbation of the hosts: one draw per gene per cohort
        multiplies every host component (liver and pancreas alike; renormalised afterwards), so that an estimator
        is never tested on the very profile it reads.
    baseline_perturbation_sd : float
        sd (natural log) of an independent per-gene perturbation of the pancreas tissue profile that makes the
        normal pancreas baseline (and so the tumours): host and tumour levels of a gene are not in HPA's ratio
        either, and a primary's exocrine host is not its cohort's normal pancreas exactly.
    islet_fraction : float
        Share of the pancreas tissue's RNA assumed to come from islets, to take the islet part out of the pancreas
        profile: gene g keeps ``1 - s_g`` of its tissue level with ``s_g = c E_g / (c E_g + (1 - c) X_g)``
        (``c`` this fraction, ``E`` pancreatic endocrine cells, ``X`` = 0.85 acinar + 0.15 ductal cells, all
        renormalised); ``s_g = 1`` for :data:`ISLET_HORMONE_GENES`.
    islet_genes : tuple of str
        Genes removed from :data:`PANCREAS_EXOCRINE` entirely.
    absent_log2cpm : tuple of float
        Baseline (log2 CPM, ``U(low, high)``) of genes the reference has at 0 in pancreas; genes the reference
        lacks keep the design's random baseline, and every host profile carries them at their baseline level.
    artefact_log2 : float
        A gene whose expected admixture effect (observed minus tumour-intrinsic log2 fold change, averaged over
        the cohort) reaches this is listed in ``truth_genes`` as ``liver_admixture`` / ``exocrine_admixture``.
    """

    liver: HostTissue = LIVER_HOST
    pancreas: HostTissue | None = EXOCRINE_HOST
    perturbation_sd: float = 0.5
    baseline_perturbation_sd: float = 0.5
    islet_fraction: float = 0.03
    islet_genes: tuple[str, ...] = ISLET_HORMONE_GENES
    absent_log2cpm: tuple[float, float] = (-6.0, -3.0)
    artefact_log2: float = 1.0

    @property
    def tissues(self) -> tuple[HostTissue, ...]:
        """The host tissues in use (liver, then exocrine pancreas if any)."""
        return (self.liver,) if self.pancreas is None else (self.liver, self.pancreas)


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
    host : HostAdmixture or None
        If given, the reference-anchored host-admixture model replaces the random baseline and ``liver`` (see
        :class:`HostAdmixture`); ``None`` (the default) keeps the original model, so existing designs give
        byte-identical cohorts.
    patient_layer : PatientLayer or None
        If given, one programme is active in a stated share of a site's tumours only, and the sample sheet gains
        clinical columns that depend on it (:mod:`simulate.patients`); ``None`` (the default) leaves designs
        without one unchanged.
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
    host: HostAdmixture | None = None
    patient_layer: PatientLayer | None = None


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
        cohort's metastases), and ``baseline_log2cpm``. With a host model, ``expected_lfc_primary_vs_normal``
        (primaries carry exocrine host; averaged over the cohort's primaries) comes before them, and genes whose
        expected admixture effect reaches ``HostAdmixture.artefact_log2`` are listed too, labelled
        ``liver_admixture`` / ``exocrine_admixture``.
    truth_programmes : DataFrame
        One row per programme: ``programme, source, groups, direction, mean_lfc_primary, mean_lfc_liver_met,
        n_genes_perturbed, n_set_members, expected_class, expected_contrasts``.
    truth_samples : DataFrame
        ``sample, patient, site, batch, liver_fraction, depth, library_size``; with a host model also
        ``exocrine_fraction, host_fraction, host_tissue`` and the cell mix ``<tissue>_mix_<profile>`` of every host
        component (0 where the sample has no such host), before ``depth``.
    truth_host_genes : DataFrame or None
        With a host model, one row per gene (all genes): reference mapping, perturbation, host levels, the host's
        expected share of counts and the gene's dispersion (see :func:`simulate.host.truth_host_genes`).
    host_share : DataFrame or None
        With a host model, genes x samples: the host's expected share of each count (0 in normal pancreas).
    """

    counts: pd.DataFrame
    samples: pd.DataFrame
    truth_genes: pd.DataFrame
    truth_programmes: pd.DataFrame
    truth_samples: pd.DataFrame
    truth_host_genes: pd.DataFrame | None = None
    host_share: pd.DataFrame | None = None

    def to_anndata(self, genes: pd.DataFrame, columns: Sequence[str] | None = None) -> ad.AnnData:
        """The cohort as the workflow's jobs read it: samples x genes integer counts, the sample sheet's
        ``columns`` (all by default) as categorical ``obs``, ``var['symbol']`` from ``genes`` (the gene table the
        cohort was simulated from, column ``gene_id``)."""
        sheet = self.samples.set_index("sample")
        sheet = sheet if columns is None else sheet[list(columns)]
        return ad.AnnData(X=self.counts.T.to_numpy(dtype=np.int64),
                          obs=sheet.astype("category").loc[self.counts.columns],
                          var=genes.set_index("gene_id").reindex(self.counts.index)[["symbol"]])

"""Designs for the admixture benchmarks and tests: paired primaries and liver metastases carrying real host tissue.

Both designs use the reference-anchored host model (:class:`simulate.HostAdmixture`): normal pancreas is the
perturbed HPA v23 pancreas tissue, liver metastases are ``(1 - f) x tumour + f x liver`` and primaries
``(1 - g) x tumour + g x exocrine pancreas``, each host a per-sample cell mix. Their noise is tuned to a real
paired tumour cohort: gene-wise NB dispersions with median about 0.1 (0.115 reported, IQR 0.05-0.30).
"""

from __future__ import annotations

from dataclasses import replace

from simulate.design import EXOCRINE_HOST, LIVER_HOST, CohortDesign, HostAdmixture, Programme
from simulate.genes import ACINAR_GENES, EXOCRINE_DUCTAL_GENES, NEUROENDOCRINE_GENES

__all__ = [
    "ADMIXTURE_DISPERSION",
    "METASTASIS_AXES",
    "tumour_identity_programmes",
    "metastasis_axis_programmes",
    "admixture_host",
    "admixture_null_design",
    "admixture_planted_design",
    "ADMIXTURE_DESIGNS",
]

#: NB dispersion of the admixture designs: ``(a0 + a1 / mean) x lognormal(0, sd)``. With these values the
#: simulator's own draws have median about 0.10 over genes with a mean of at least 10 counts (IQR about
#: 0.05-0.20; a moment estimate on 40 replicate normal samples gives 0.115), close to a real paired cohort's
#: gene-wise estimates (median 0.115, IQR 0.05-0.30; those also hold misfit the draws do not).
ADMIXTURE_DISPERSION: dict[str, float] = {"dispersion_asymptotic": 0.09, "dispersion_extra_poisson": 1.0,
                                          "dispersion_scatter_sd": 1.0}

#: The planted metastasis axes: name -> (GO BP term, hand-picked core genes). All are expressed by the hosts
#: too (EGFR by hepatocytes and cholangiocytes, KDR by endothelium, CSF1R by Kupffer cells).
METASTASIS_AXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "egfr_axis": ("GO:0007173", ("EGFR", "ERBB2", "ERBB3", "EGF", "TGFA", "AREG", "EREG", "HBEGF")),
    "vegfr_axis": ("GO:0048010", ("KDR", "FLT1", "FLT4", "VEGFA")),
    "csf1r_axis": ("GO:0036006", ("CSF1R", "CSF1", "IL34", "CD68", "CD163", "MRC1")),
}


def tumour_identity_programmes() -> tuple[Programme, ...]:
    """What makes a pNEN differ from pancreas, identical in primaries and metastases.

    Returns
    -------
    tuple of Programme
        ``acinar_loss`` (the 25 acinar enzymes, log2 -8, sd 0.5: tumour cells make none; a primary's acinar
        reads come from its exocrine admixture), ``exocrine_ductal_loss`` (24 genes, -2.5, sd 0.4) and
        ``neuroendocrine`` (13 markers, +3.5, sd 0.4), each ``both_tumours`` with the same per-gene effect in
        primaries and metastases. No target-axis gene is touched; islet hormones (INS, GCG, SST, PPY) are tumour
        genes at their pancreas-tissue level, absent from the exocrine host.
    """
    return (
        Programme("acinar_loss", "acinar enzymes, very high in normal pancreas, not made by tumour cells",
                  "both_tumours", -8.0, -8.0, core_genes=ACINAR_GENES, lfc_sd=0.5),
        Programme("exocrine_ductal_loss", "exocrine differentiation and ductal genes of normal pancreas, down in "
                  "tumours", "both_tumours", -2.5, -2.5, core_genes=EXOCRINE_DUCTAL_GENES, lfc_sd=0.4),
        Programme("neuroendocrine", "neuroendocrine markers (islet level in normal pancreas), up in tumours",
                  "both_tumours", 3.5, 3.5, core_genes=NEUROENDOCRINE_GENES, lfc_sd=0.4),
    )


def metastasis_axis_programmes(lfc: float = 1.0, lfc_sd: float = 0.3) -> tuple[Programme, ...]:
    """The EGFR, VEGFR and CSF1R axes up in the tumour part of liver metastases only.

    Parameters
    ----------
    lfc : float
        Mean tumour-intrinsic log2 fold change in metastases (vs normal pancreas and vs primaries; 0 in
        primaries).
    lfc_sd : float
        sd of the per-gene effects around ``lfc``.

    Returns
    -------
    tuple of Programme
        One ``metastasis_only`` programme per :data:`METASTASIS_AXES` entry: its core genes always perturbed,
        70% of its GO set's other members too.
    """
    return tuple(
        Programme(name, f"{name.split('_')[0].upper()} axis up in the tumour part of liver metastases only",
                  "metastasis_only", 0.0, lfc, go_ids=(term,), core_genes=core, lfc_sd=lfc_sd)
        for name, (term, core) in METASTASIS_AXES.items())


def admixture_host(liver_range: tuple[float, float] = (0.1, 0.5),
                   exocrine_range: tuple[float, float] = (0.0, 0.2)) -> HostAdmixture:
    """The host model of the admixture designs: default cell mixes, the given fraction ranges.

    Parameters
    ----------
    liver_range, exocrine_range : tuple of float
        Host fraction ranges of metastases and primaries.

    Returns
    -------
    HostAdmixture
        :data:`LIVER_HOST` and :data:`EXOCRINE_HOST` with these ranges; perturbation sd 0.5.
    """
    return HostAdmixture(liver=replace(LIVER_HOST, fraction_range=liver_range),
                         pancreas=replace(EXOCRINE_HOST, fraction_range=exocrine_range))


def _patients(n_patients: int, n_normal: int | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if n_patients < 2:
        raise ValueError(f"an admixture design needs at least 2 patients; got {n_patients}")
    n_normal = min(n_patients, max(2, n_patients // 2)) if n_normal is None else n_normal
    if not 0 <= n_normal <= n_patients:
        raise ValueError(f"n_normal must be between 0 and n_patients ({n_patients}); got {n_normal}")
    all3 = ("normal_pancreas", "primary", "liver_metastasis")
    pm = ("primary", "liver_metastasis")
    return tuple((f"A{i:02d}", all3 if i <= n_normal else pm) for i in range(1, n_patients + 1))


def admixture_null_design(n_patients: int, n_normal: int | None = None,
                          liver_range: tuple[float, float] = (0.1, 0.5),
                          exocrine_range: tuple[float, float] = (0.0, 0.2)) -> CohortDesign:
    """The admixture-only null: paired primaries and metastases whose tumours do not differ at all.

    Planted truth:

    * patients ``A01..An``, each with a primary and a liver metastasis; the first ``n_normal`` (default
      ``max(2, n // 2)``, at most n) also with normal pancreas; batches alternate over patients;
    * the tumour is the same in primaries and metastases: ``lfc_liver_met_vs_primary = 0`` for every gene;
      tumour vs normal only :func:`tumour_identity_programmes` (acinar -8, exocrine/ductal -2.5,
      neuroendocrine +3.5), which touch no target-axis gene: every axis gene (EGFR, ERBB2-4, KDR, FLT1, FLT4,
      CSF1R, CD68, ...) has tumour-intrinsic log2 fold change 0 in all three contrasts;
    * normal pancreas is the HPA v23 pancreas tissue profile, perturbed per gene (lognormal sd 0.5); the tumour
      is that baseline times the identity programmes, so it expresses EGFR, KDR, CSF1R, CD68, INS, GCG, SST, ...
      at pancreas-tissue levels (acinar genes aside);
    * metastases carry f ~ U(0.10, 0.50) liver (hepatocytes 60%, liver tissue 20%, Kupffer 8%, endothelial,
      cholangiocytes and fibroblasts 4% each, per-sample Dirichlet, concentration 30), primaries g ~ U(0, 0.20)
      exocrine pancreas (tissue minus islets 75%, acinar cells 10%, ductal cells 15%), every host component
      from HPA v23 times one per-gene perturbation (lognormal sd 0.5, independent of the baseline's);
    * so whatever comes out up in metastases (liver-function genes and terms, and the host's share of EGFR, KDR,
      CSF1R, CD68, ...) is admixture: after adjustment no axis may be called up in metastases and no
      liver-function term may be enriched.

    Parameters
    ----------
    n_patients : int
        Patients (>= 2).
    n_normal : int, optional
        Patients with a normal pancreas sample too.
    liver_range, exocrine_range : tuple of float
        Host fraction ranges of metastases and primaries.

    Returns
    -------
    CohortDesign
        Named ``admixture_null``; dispersions as :data:`ADMIXTURE_DISPERSION`.
    """
    return CohortDesign(name="admixture_null", patients=_patients(n_patients, n_normal),
                        programmes=tumour_identity_programmes(), host=admixture_host(liver_range, exocrine_range),
                        **ADMIXTURE_DISPERSION)


def admixture_planted_design(n_patients: int, n_normal: int | None = None, lfc: float = 1.0,
                             liver_range: tuple[float, float] = (0.1, 0.5),
                             exocrine_range: tuple[float, float] = (0.0, 0.2)) -> CohortDesign:
    """The admixture null plus planted metastasis effects on genes the hosts express too.

    Planted truth: everything of :func:`admixture_null_design`, plus :func:`metastasis_axis_programmes`: the
    EGFR axis (EGFR, ERBB2, ERBB3, EGF, TGFA, AREG, EREG, HBEGF and 70% of GO:0007173), the VEGFR axis (KDR,
    FLT1, FLT4, VEGFA and 70% of GO:0048010) and the CSF1R axis (CSF1R, CSF1, IL34, CD68, CD163, MRC1 and 70% of
    GO:0036006) up in the tumour part of metastases by ``lfc`` log2 (per gene N(lfc, 0.3)), 0 in primaries:
    expected ``up`` in ``liver_met_vs_normal`` and ``liver_met_vs_primary`` (class ``unique:liver_met_vs_normal``)
    after adjustment. The hosts express these genes too (liver EGFR from hepatocytes and cholangiocytes, KDR from
    endothelium, CSF1R and CD68 from Kupffer cells), so unadjusted estimates are inflated by admixture; the truth
    is the tumour-intrinsic ``lfc_*`` columns.

    Parameters
    ----------
    n_patients : int
        Patients (>= 2).
    n_normal : int, optional
        Patients with a normal pancreas sample too.
    lfc : float
        Planted mean log2 fold change of the axes in metastases.
    liver_range, exocrine_range : tuple of float
        Host fraction ranges of metastases and primaries.

    Returns
    -------
    CohortDesign
        Named ``admixture_planted``.
    """
    return CohortDesign(name="admixture_planted", patients=_patients(n_patients, n_normal),
                        programmes=tumour_identity_programmes() + metastasis_axis_programmes(lfc),
                        host=admixture_host(liver_range, exocrine_range), **ADMIXTURE_DISPERSION)


#: Design name -> function of ``n_patients`` (the names ``benchmarks/make_admixture_cohort.py`` accepts).
ADMIXTURE_DESIGNS = {"admixture_null": admixture_null_design, "admixture_planted": admixture_planted_design}

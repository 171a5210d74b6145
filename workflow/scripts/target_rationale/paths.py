"""Where every result lives: the one place that names the workflow's output paths.

The rules (``workflow/rules/*.smk``) declare their outputs with :func:`result` and connect to each other through
``rules.<name>.output``; the report reads the same files through :func:`result` with its own results folder as
``root``. A path is a template whose ``{wildcards}`` are Snakemake's until filled in.

>>> result("de_table")
'results/diffexp/{contrast}.tsv'
>>> result("de_table", root="/run/results", contrast="liver_met_vs_primary")
'/run/results/diffexp/liver_met_vs_primary.tsv'
"""

from __future__ import annotations

from pathlib import Path

#: The results folder of a run, relative to its working directory.
RESULTS = "results"

#: Result name -> path template under the results folder. Figures are stems: ``.png`` and ``.svg`` follow.
LAYOUT: dict[str, str] = {
    # cohort
    "import_counts": "import/counts.tsv.gz",
    "import_samples": "import/samples.tsv",
    "import_record": "import/import.yaml",
    "cohort_h5ad": "cohort/cohort.h5ad",
    "cohort_gene_ids": "cohort/gene_ids.tsv",
    "cohort_samples": "cohort/samples.tsv",
    # gene sets
    "collection_gmt": "genesets/{collection}.gmt.gz",
    "collection_manifest": "genesets/{collection}.manifest.yaml",
    # QC and differential expression
    "qc_h5ad": "qc/qc.h5ad",
    "qc_samples": "qc/samples.tsv",
    "qc_figure": "qc/{plot}",
    "dispersions_figure": "qc/dispersions_{fit}",
    "admixture_table": "qc/admixture.tsv",
    "adjusted_cohort": "cohort/adjusted.h5ad",
    "qc_adjusted_h5ad": "qc/adjusted.h5ad",
    "fit": "diffexp/fits/{fit}.pkl",
    "de_table": "diffexp/{contrast}.tsv",
    "fit_unadjusted": "diffexp/unadjusted/fits/{fit}.pkl",
    "de_table_unadjusted": "diffexp/unadjusted/{contrast}.tsv",
    "contrast_figure": "diffexp/{contrast}.{plot}",
    # enrichment
    "enrichment_table": "enrichment/{contrast}/{collection}.{table}.tsv",
    "enrichment_figure": "enrichment/{contrast}/{collection}.{plot}",
    "comparison_table": "enrichment/comparison/{collection}.tsv",
    "comparison_figure": "enrichment/comparison/{collection}.heatmap",
    # target axes
    "axis_scores": "targets/scores.tsv",
    "axis_tests": "targets/axis_tests.tsv",
    "axis_tests_loo": "targets/axis_tests_loo.tsv",
    "axis_tests_bootstrap": "targets/axis_tests_bootstrap.tsv",
    "axes_table": "targets/axes.tsv",
    "axis_genes_table": "targets/genes.tsv",
    "rationale_table": "targets/rationale.tsv",
    "rationale_markdown": "targets/rationale.md",
    "targets_figure": "targets/{plot}",
    # patients
    "patients_activity": "patients/activity.tsv",
    "patients_prevalence": "patients/prevalence.tsv",
    "patients_changes": "patients/changes.tsv",
    "patients_associations": "patients/associations.tsv",
    "patients_survival": "patients/survival.tsv",
    "patients_survival_data": "patients/survival_data.tsv",
    "patients_summary": "patients/summary.md",
    "patients_figure": "patients/{plot}",
    # provenance and report
    "provenance": "provenance/{name}",
    "report_html": "report/report.html",
}

#: Figures of each plotting job: (stem name in LAYOUT, plot names).
QC_PLOTS = ("library_sizes", "pca", "sample_distances")
CONTRAST_PLOTS = ("ma", "volcano")
ENRICHMENT_PLOTS = ("gsea_dots", "ora_dots", "curves")
ENRICHMENT_TABLES = ("ora_up", "ora_down", "gsea")
TARGET_PLOTS = ("axis_genes", "axis_scores", "evidence")
TARGET_TABLES = ("axis_scores", "axis_tests", "axis_tests_loo", "axis_tests_bootstrap", "axes_table",
                 "axis_genes_table", "rationale_table", "rationale_markdown")
PROVENANCE_FILES = ("config.yaml", "samples.tsv", "versions.tsv", "checksums.tsv", "genesets.yaml", "run.yaml")


def result(name: str, /, root: str | Path = RESULTS, **wildcards: str) -> str:
    """The path of result ``name`` under ``root``, with the given ``wildcards`` filled in (the others kept).

    Parameters
    ----------
    name
        A key of :data:`LAYOUT`.
    root
        The results folder: ``results`` for the rules, a run's results folder for readers such as the report.
    **wildcards
        Values for some or all of the template's ``{wildcards}``.
    """
    template = LAYOUT[name]
    for key, value in wildcards.items():
        template = template.replace("{" + key + "}", str(value))
    return f"{Path(root).as_posix()}/{template}"

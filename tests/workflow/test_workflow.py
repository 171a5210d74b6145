"""The workflow end to end on the tiny test cohort, its dry runs and its lint."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_CONFIG, run_workflow
from target_rationale.cohort.tables import read_counts

DEFAULT_CONFIG = REPO / "config" / "config.yaml"


#: Jobs after the cohort, gene-set and enrichment stages for three contrasts (two share a reference level):
#: DE and QC, target axes, provenance and report.
DE_JOBS = {"qc_matrix": 1, "qc_plots": 1, "admixture": 1, "admixture_plot": 1, "fit": 2, "dispersion_plot": 2,
           "contrast": 3, "contrast_plots": 3,
           "axis_scores": 1, "axis_tests": 1, "targets": 1, "target_plots": 1, "patients": 1, "patient_plots": 1,
           "provenance": 1, "report": 1}
#: The host-tissue adjustment (admixture.adjust): the purified cohort and its VST, the unadjusted fits and tests.
ADJUST_JOBS = {"purify": 1, "qc_matrix_adjusted": 1, "fit_unadjusted": 2, "contrast_unadjusted": 3}


def enrichment_jobs(n_collections: int) -> dict[str, int]:
    """Enrichment jobs for three contrasts: one per contrast (over every collection), one comparison per
    collection."""
    return {"enrich": 3, "term_tests": 3, "enrichment_plots": 3, "compare_contrasts": n_collections}


def job_counts(stdout: str) -> dict[str, int]:
    """Rule -> job count from the table Snakemake prints for a dry run."""
    table = stdout.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)
            if m.group(1) != "total"}


@pytest.mark.workflow
@pytest.mark.parametrize("configfile, expected", [
    # both run the host-tissue stage with its adjustment (the demo carries realistic liver and exocrine host)
    (DEFAULT_CONFIG, {"all": 1, "cohort": 1, "collection": 5, **DE_JOBS, **ADJUST_JOBS, **enrichment_jobs(5)}),
    (TEST_CONFIG, {"all": 1, "cohort": 1, "collection": 1, **DE_JOBS, **ADJUST_JOBS, **enrichment_jobs(1)}),
], ids=["default", "test"])
def test_dry_run_plans_every_stage(tmp_path: Path, configfile: Path, expected: dict[str, int]) -> None:
    result = run_workflow(tmp_path, configfile, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {rule: n for rule, n in expected.items() if n}


@pytest.mark.workflow
def test_dry_run_with_online_collections_plans_one_fetch_each(tmp_path: Path) -> None:
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["genesets"] = {"KEGG": {"source": "kegg_rest"}, "WP": {"source": "wikipathways"},
                          "Hallmark": {"source": "msigdb", "collection": "h.all"}}
    config["geneset_cache"] = str(tmp_path / "cache")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_workflow(tmp_path, tmp_path / "config.yaml", "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {"all": 1, "cohort": 1, "collection": 3, "fetch_collection": 3, **DE_JOBS,
                                         **ADJUST_JOBS, **enrichment_jobs(3)}
    for key in ("kegg_rest-hsa", "wikipathways-Homo_sapiens", "msigdb-h.all-2024.1.Hs"):
        assert f"{tmp_path}/cache/{key}/genesets.gmt" in result.stdout


@pytest.mark.workflow
def test_lint_is_clean() -> None:
    result = run_workflow(REPO, TEST_CONFIG, "--lint")  # lints the repository's own files
    assert result.returncode == 0
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


@pytest.mark.workflow
def test_cohort_holds_the_input_counts_and_symbols(tiny_run: Path) -> None:
    adata = ad.read_h5ad(tiny_run / "results" / "cohort" / "cohort.h5ad")
    counts = read_counts(REPO / "tests" / "data" / "counts.tsv.gz").counts
    sheet = pd.read_csv(REPO / "tests" / "data" / "samples.tsv", sep="\t", dtype=str).set_index("sample")
    assert list(adata.obs_names) == list(sheet.index)
    assert list(adata.var_names) == list(counts.index)
    np.testing.assert_array_equal(adata.X, counts.loc[:, sheet.index].to_numpy().T)
    np.testing.assert_array_equal(adata.obs["library_size"], counts.loc[:, sheet.index].sum().to_numpy())
    by_symbol = adata.var.reset_index().set_index("symbol")
    assert by_symbol.loc["EGFR", "gene_id"] == "ENSG00000146648"
    assert by_symbol.loc["KDR", "gene_id"] == "ENSG00000128052"
    assert (adata.var["mapping"] == "mapped").all()
    samples = pd.read_csv(tiny_run / "results" / "cohort" / "samples.tsv", sep="\t", dtype={"patient": str})
    assert samples["library_size"].tolist() == adata.obs["library_size"].tolist()
    log = (tiny_run / "logs" / "cohort.log").read_text()
    assert f"gene id type: ensembl; {counts.shape[0]} genes" in log
    assert "targets file" not in log  # the parse checked the targets file's symbols: the job does not again


@pytest.mark.workflow
def test_rerun_has_nothing_to_do(tiny_run: Path) -> None:
    result = run_workflow(tiny_run, TEST_CONFIG, "-n", "--cores", "1")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.workflow
def test_entrez_and_featurecounts_inputs_run(tmp_path: Path) -> None:
    """A featureCounts table with Entrez ids is read, mapped and assembled like any other matrix."""
    source = tmp_path / "in"
    source.mkdir()
    text = ("# Program:featureCounts v2.0.3\nGeneid\tChr\tStart\tEnd\tStrand\tLength\t"
            + "\t".join(f"bams/S{i}.bam" for i in range(1, 5)) + "\n"
            "1956\tchr7\t1\t2\t+\t10\t5\t9\t12\t30\n3791\tchr4\t1\t2\t+\t10\t50\t40\t12\t3\n"
            "99999999\tchr1\t1\t2\t+\t10\t1\t0\t2\t3\n"
            "7422\tchr6\t1\t2\t+\t10\t20\t25\t30\t35\n")  # VEGFA: a fit needs >= 3 genes past its pre-filter
    (source / "fc.txt").write_text(text)
    (source / "samples.tsv").write_text("sample\tsite\nS1\ta\nS2\ta\nS3\tb\nS4\tb\n")
    config = source / "config.yaml"
    config.write_text("counts: in/fc.txt\nsamples: in/samples.tsv\ndesign: '~ site'\ntargets: null\n"
                      "contrasts:\n  - {name: b_vs_a, variable: site, target: b, reference: a}\n")
    shutil.copy(config, tmp_path / "config.yaml")
    result = run_workflow(tmp_path, tmp_path / "config.yaml", "--cores", "1", "results/cohort/gene_ids.tsv")
    assert result.returncode == 0, result.stderr[-3000:]
    genes = pd.read_csv(tmp_path / "results" / "cohort" / "gene_ids.tsv", sep="\t", dtype=str)
    assert genes["symbol"].tolist() == ["EGFR", "KDR", "99999999", "VEGFA"]
    assert genes["mapping"].tolist() == ["mapped", "mapped", "unmapped", "mapped"]
    log = (tmp_path / "logs" / "cohort.log").read_text()
    assert "featureCounts column 'bams/S1.bam' read as sample 'S1'" in log
    assert "'99999999'" in log


@pytest.mark.workflow
def test_diffexp_tables_match_r_deseq2(tiny_run: Path) -> None:
    """The workflow's own tables (not just the functions) agree with R DESeq2 on the tiny cohort: the unadjusted
    ones, fitted on the counts as they are, as R was (the adjusted ones fit purified counts)."""
    for name, n_calls in {"primary_vs_normal": 103, "liver_met_vs_normal": 153, "liver_met_vs_primary": 64}.items():
        ours = pd.read_csv(tiny_run / "results" / "diffexp" / "unadjusted" / f"{name}.tsv", sep="\t",
                           index_col="gene_id")
        r = pd.read_csv(REPO / "tests" / "reference" / f"deseq2_{name}.tsv", sep="\t", index_col="gene_id")
        assert (r["padj"] < 0.05).sum() == n_calls
        assert set(ours.index[ours["padj"] < 0.05]) == set(r.index[r["padj"] < 0.05])
        joined = ours.join(r, rsuffix="_r")
        assert np.corrcoef(joined["log2FoldChange"], joined["log2FoldChange_r"])[0, 1] >= 0.999
        assert ours["symbol"].notna().all()


@pytest.mark.workflow
def test_qc_size_factors_are_median_of_ratios_over_all_genes(tiny_run: Path) -> None:
    """QC normalisation uses every gene (not the DE pre-filter): check it by hand-computed median of ratios."""
    counts = read_counts(REPO / "tests" / "data" / "counts.tsv.gz").counts
    positive = counts[(counts > 0).all(axis=1)]
    log_ratios = np.log(positive).sub(np.log(positive).mean(axis=1), axis=0)
    expected = np.exp(log_ratios.median(axis=0))
    qc = pd.read_csv(tiny_run / "results" / "qc" / "samples.tsv", sep="\t", index_col="sample")
    np.testing.assert_allclose(qc.loc[expected.index, "size_factor"], expected, rtol=1e-5)

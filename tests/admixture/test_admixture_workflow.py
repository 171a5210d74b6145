"""The host-tissue stage in the workflow: the tiny cohort's estimates against its planted liver fractions, the
stage off for cohorts without host levels, and bad `admixture:` settings stopped before any job."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, Cohort, run_workflow


@pytest.mark.workflow
def test_tiny_run_estimates_the_planted_liver_fractions(tiny_run: Path) -> None:
    table = pd.read_csv(tiny_run / "results" / "qc" / "admixture.tsv", sep="\t", keep_default_na=False,
                        na_values=[""]).set_index("sample")
    truth = pd.read_csv(REPO / "tests" / "data" / "truth_samples.tsv", sep="\t", index_col="sample")
    mets = truth.index[truth["site"] == "liver_metastasis"]
    assert (table.loc[mets, "host"] == "liver").all()
    estimated, planted = table.loc[mets, "fraction"], truth.loc[mets, "liver_fraction"]
    assert np.corrcoef(estimated, planted)[0, 1] > 0.9
    assert (table.loc[mets, "ci_low"] <= planted).all() and (planted <= table.loc[mets, "ci_high"]).all()
    normals = truth.index[truth["site"] == "normal_pancreas"]
    assert (table.loc[normals, "fraction"] == 0).all() and table.loc[normals, "host"].isna().all()
    primaries = truth.index[truth["site"] == "primary"]  # the tiny cohort plants no exocrine tissue in primaries
    assert (table.loc[primaries, "host"] == "exocrine_pancreas").all()
    assert (table.loc[primaries, "fraction"] < 0.02).all()


def _dry_run(cohort: Cohort) -> tuple[int, list[str], str]:
    cohort.write()
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    errors = [line.removeprefix("Input error: ") for line in result.stderr.splitlines()
              if line.startswith("Input error: ")]
    return result.returncode, errors, result.stdout


@pytest.mark.workflow
def test_default_hosts_turn_the_stage_off_for_a_cohort_without_their_levels(cohort: Cohort) -> None:
    cohort.sheet["site"] = cohort.sheet["site"].map({"normal_pancreas": "N", "primary": "T", "liver_metastasis": "M"})
    for contrast, (target, reference) in zip(cohort.config["contrasts"], [("T", "N"), ("M", "N"), ("M", "T")]):
        contrast.update(target=target, reference=reference)
    returncode, errors, stdout = _dry_run(cohort)
    assert returncode == 0 and not errors
    assert "rule admixture:" not in stdout


@pytest.mark.workflow
@pytest.mark.parametrize(("admixture", "expected"), [
    ({"hosts": {"liver_met": "liver"}},
     "config: admixture.hosts: 'liver_met' is not a value of column 'site' in samples file"),
    ({"variable": "tissue"}, "config: admixture.variable: column 'tissue' is not in samples file"),
    ({"hosts": {"liver_metastasis": "lung"}}, "config: admixture.hosts.liver_metastasis = 'lung' is not allowed"),
], ids=["level", "column", "host"])
def test_bad_admixture_settings_stop_before_any_job(cohort: Cohort, admixture: dict, expected: str) -> None:
    cohort.config["admixture"] = admixture
    returncode, errors, _ = _dry_run(cohort)
    assert returncode != 0 and len(errors) == 1 and errors[0].startswith(expected), errors


@pytest.mark.workflow
def test_a_damaged_host_reference_stops_before_any_job(cohort: Cohort, tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    shutil.copytree(REPO / "resources" / "host_reference", folder)
    data = folder / "hpa_v23_host_ntpm.tsv.gz"
    data.write_bytes(data.read_bytes()[:-10] + b"0123456789")
    cohort.config["admixture"] = {"reference": str(data)}
    returncode, errors, _ = _dry_run(cohort)
    assert returncode != 0 and len(errors) == 1
    assert errors[0].startswith(f"config: admixture.reference: {data}: sha256 ") and "build_host_reference" in errors[0]
    assert not (cohort.folder / "results").exists()


@pytest.mark.workflow
def test_tiny_run_adjusts_the_de_tables_for_host_tissue(tiny_run: Path) -> None:
    """The tiny cohort's metastases carry planted liver: unadjusted, every hepatocyte-signature gene comes out up in
    metastases; adjusted, most are host-dominated (no test) and at most a few stay significant. The unadjusted
    tables keep the plain statistics; the report says what was done."""
    results = tiny_run / "results"
    for contrast in ("primary_vs_normal", "liver_met_vs_normal", "liver_met_vs_primary"):
        adjusted = pd.read_csv(results / "diffexp" / f"{contrast}.tsv", sep="\t")
        plain = pd.read_csv(results / "diffexp" / "unadjusted" / f"{contrast}.tsv", sep="\t")
        assert list(adjusted.columns) == list(plain.columns)
        assert {"host_share", "host_dominated"} <= set(adjusted.columns)
        dominated = adjusted[adjusted["host_dominated"]]
        assert dominated[["stat", "pvalue", "padj"]].isna().all().all()
        assert (dominated["host_share"] >= 0.1).all()  # 0.8, or 0.1 for the host's specific genes (anchors)
        assert (adjusted.loc[adjusted["host_share"] >= 0.8, "host_dominated"]).all()
        assert plain["host_dominated"].sum() > 0 and plain.loc[plain["host_dominated"], "stat"].notna().any()
    adjusted = pd.read_csv(results / "diffexp" / "liver_met_vs_primary.tsv", sep="\t")
    plain = pd.read_csv(results / "diffexp" / "unadjusted" / "liver_met_vs_primary.tsv", sep="\t")

    def liver_up(table: pd.DataFrame) -> int:
        return int((table["liver_signature"] & (table["padj"] < 0.05) & (table["log2FoldChange"] > 0)).sum())

    assert liver_up(plain) >= 15
    assert liver_up(adjusted) <= 3
    html = (results / "report" / "report.html").read_text(encoding="utf-8")
    assert "Differential expression is <b>adjusted</b> for host tissue" in html


@pytest.mark.workflow
def test_exclude_liver_genes_still_works_with_a_deprecation_line(cohort: Cohort) -> None:
    cohort.config["diffexp"] = {**cohort.config.get("diffexp", {}), "exclude_liver_genes": True}
    cohort.write()
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("Deprecated: diffexp.exclude_liver_genes")]
    assert len(lines) == 1 and "admixture:" in lines[0]
    cohort.config["diffexp"]["exclude_liver_genes"] = False
    cohort.write()
    assert "Deprecated" not in run_workflow(cohort.folder, cohort.config_path, "-n").stderr

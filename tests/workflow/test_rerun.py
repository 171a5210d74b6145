"""Each job gets only the config values it reads: changing a key reruns exactly the jobs it affects.

A copy of the session's finished tiny run (its .snakemake metadata included) is dry-run with one key changed;
the provenance and the report record the whole config, so they rerun on any change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TEST_CONFIG, run_workflow
from test_workflow import job_counts

RECORDS = {"all", "provenance", "report"}


def planned_after(tiny_run: Path, tmp_path: Path, edit) -> set[str]:
    """Rules a dry run plans on a copy of ``tiny_run`` after ``edit(config, folder)`` changed its config."""
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = yaml.safe_load(TEST_CONFIG.read_text())
    edit(config, tmp_path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_workflow(workdir, tmp_path / "config.yaml", "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    return set(job_counts(result.stdout)) if "Job stats:" in result.stdout else set()


@pytest.mark.workflow
def test_unchanged_config_reruns_nothing(tiny_run: Path, tmp_path: Path) -> None:
    assert planned_after(tiny_run, tmp_path, lambda config, folder: None) == set()


@pytest.mark.workflow
@pytest.mark.parametrize(("edit", "expected"), [
    (lambda c, f: c.setdefault("enrichment", {}).update(curves=["GO:0007049"]), {"enrichment_plots"}),
    (lambda c, f: c.setdefault("diffexp", {}).update(highlight=["TP53"]), {"contrast_plots"}),
    (lambda c, f: c.setdefault("enrichment", {}).update(gsea_fdr=0.1), {"enrichment_plots"}),
    (lambda c, f: c.setdefault("enrichment", {}).update(term_fdr=0.1),
     {"compare_contrasts", "targets", "target_plots"}),
    (lambda c, f: c.setdefault("diffexp", {}).update(alpha=0.1),
     {"contrast", "contrast_unadjusted", "contrast_plots", "enrich", "term_tests", "enrichment_plots",
      "compare_contrasts", "targets", "target_plots"}),
    (lambda c, f: c.setdefault("admixture", {}).update(host_dominated=0.6),
     {"contrast", "contrast_unadjusted", "contrast_plots", "enrich", "term_tests", "enrichment_plots",
      "compare_contrasts", "axis_tests", "targets", "target_plots"}),
], ids=["enrichment.curves", "diffexp.highlight", "enrichment.gsea_fdr", "enrichment.term_fdr", "diffexp.alpha",
        "admixture.host_dominated"])
def test_a_key_reruns_only_its_readers(tiny_run: Path, tmp_path: Path, edit, expected: set[str]) -> None:
    assert planned_after(tiny_run, tmp_path, edit) == expected | RECORDS


@pytest.mark.workflow
def test_a_targets_only_key_reruns_only_the_target_stage(tiny_run: Path, tmp_path: Path) -> None:
    def edit(config: dict, folder: Path) -> None:
        targets = yaml.safe_load((REPO / "config" / "targets.yaml").read_text())
        targets["flag"] = {**(targets.get("flag") or {}), "min_lines": 3}
        (folder / "targets.yaml").write_text(yaml.safe_dump(targets, sort_keys=False))
        config["targets"] = str(folder / "targets.yaml")

    assert planned_after(tiny_run, tmp_path, edit) == {"targets", "target_plots"} | RECORDS

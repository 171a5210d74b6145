"""The targets file in the workflow: a gene symbol that no gene of the cohort can carry stops the run before any
job, one line per key, with the inputs untouched."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO, Cohort, run_workflow


@pytest.mark.workflow
def test_a_misspelt_symbol_stops_the_run_before_any_job_and_a_count_id_does_not(cohort: Cohort) -> None:
    data = yaml.safe_load((REPO / "config" / "targets.yaml").read_text(encoding="utf-8"))
    data["axes"]["EGFR"]["receptors"] = ["EGRF", "ERBB2"]
    data["drugs"]["gefitinib"]["targets"] = ["egfr"]
    (cohort.folder / "targets.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    cohort.config["targets"] = "targets.yaml"
    cohort.write()
    before = cohort.checksums()
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("Input error: ")]
    assert lines == [
        "Input error: targets file 'targets.yaml': axes.EGFR.receptors: 'EGRF' is neither a symbol of the gene id "
        "map nor a gene id of the counts; fix the spelling (HGNC symbols), add the gene to the gene_id_map, or "
        "remove it",
        "Input error: targets file 'targets.yaml': drugs.gefitinib.targets: 'egfr' is neither a symbol of the gene "
        "id map nor a gene id of the counts; write 'egfr' -> 'EGFR' (symbols are case-sensitive)"], \
        result.stderr[-3000:]
    assert not (cohort.folder / "results").exists() and cohort.checksums() == before

    data["axes"]["EGFR"]["receptors"] = ["ENSG00000146648", "ERBB2"]  # a gene id of the counts (EGFR's)
    data["drugs"]["gefitinib"]["targets"] = ["EGFR"]
    (cohort.folder / "targets.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert result.returncode == 0, result.stderr[-3000:]

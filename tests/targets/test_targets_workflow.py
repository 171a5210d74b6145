"""The targets file in the workflow: a gene symbol that no gene of the cohort can carry stops the run before any
job, one line per key, with the inputs untouched."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO, Cohort, input_errors, run_workflow, stopped_before_any_job


@pytest.mark.workflow
def test_a_misspelt_symbol_stops_the_run_before_any_job_and_a_count_id_does_not(cohort: Cohort) -> None:
    data = yaml.safe_load((REPO / "config" / "targets.yaml").read_text(encoding="utf-8"))
    data["axes"]["EGFR"]["receptors"] = ["EGRF", "ERBB2"]
    data["drugs"]["gefitinib"]["targets"] = ["egfr"]
    (cohort.folder / "targets.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    cohort.config["targets"] = "targets.yaml"
    assert stopped_before_any_job(cohort) == [
        "Input error: targets file 'targets.yaml': axes.EGFR.receptors: 'EGRF' is not a symbol of the gene id "
        "map or of the counts' genes; fix the spelling (HGNC symbols), add the gene to the gene_id_map, or "
        "remove it",
        "Input error: targets file 'targets.yaml': drugs.gefitinib.targets: 'egfr' is not a symbol of the gene "
        "id map or of the counts' genes; write 'egfr' -> 'EGFR' (symbols are case-sensitive)"]

    # EGFR's Ensembl id is no symbol (the tables call that gene EGFR); an id the map lacks keeps its own id
    data["axes"]["EGFR"]["receptors"] = ["ENSG00000146648", "ENSG00000900001", "ERBB2"]
    data["drugs"]["gefitinib"]["targets"] = ["EGFR"]
    (cohort.folder / "targets.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    lines = input_errors(run_workflow(cohort.folder, cohort.config_path, "-n"))
    assert lines == ["Input error: targets file 'targets.yaml': axes.EGFR.receptors: 'ENSG00000146648' is not a "
                     "symbol of the gene id map or of the counts' genes; fix the spelling (HGNC "
                     "symbols), add the gene to the gene_id_map, or remove it"]
    data["axes"]["EGFR"]["receptors"] = ["ENSG00000900001", "ERBB2"]
    (cohort.folder / "targets.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert result.returncode == 0, result.stderr[-3000:]

    # a gene id map that cannot be read is one line too (it was a traceback)
    header, row = "ensembl_gene_id\tentrez_id\tsymbol\tgene_type\n", "ENSG00000146648\t1956\tEGFR\tprotein-coding\n"
    (cohort.folder / "map.tsv").write_text(header + row.replace("\n", "\textra\tfields\n") + row)
    cohort.config["gene_id_map"] = "map.tsv"
    cohort.write()
    lines = input_errors(run_workflow(cohort.folder, cohort.config_path, "-n"))
    assert len(lines) == 1, lines
    assert lines[0].startswith("Input error: config: gene_id_map: file 'map.tsv' cannot be read (")
    assert "line 2 has more fields than the header" in lines[0]
    assert lines[0].endswith("(the shipped one: resources/gene_ids/hs_gene_id_map.tsv.gz)")
    (cohort.folder / "map.tsv").write_text(header + row + row.replace("\n", "\textra\tfields\n"))
    lines = input_errors(run_workflow(cohort.folder, cohort.config_path, "-n"))
    assert len(lines) == 1 and "Expected 4 fields in line 3, saw 6" in lines[0], lines

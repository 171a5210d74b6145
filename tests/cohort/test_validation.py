"""Bad input stops the run before any job: one clear line per problem, nothing under results/, inputs untouched.

Each case edits the valid fixture cohort in one way, runs the real workflow, and checks the message, the exit
status, that no ``results/`` folder appears and that the input files are byte-identical afterwards.
"""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import Cohort, input_errors, run_workflow


def _set(frame: pd.DataFrame, row: int, column: int, value) -> None:
    frame.iloc[row, column] = value


def missing_counts(c: Cohort) -> None:
    c.config["counts"] = "no_such_counts.tsv"


def missing_samples(c: Cohort) -> None:
    c.config["samples"] = "nowhere/samples.tsv"


def writes_files(edit):
    """Mark an edit that writes the cohort's files itself (to corrupt them below the table level)."""
    edit.writes_files = True
    return edit


@writes_files
def garbled_counts(c: Cohort) -> None:
    c.write()
    lines = c.counts_path.read_text().splitlines()
    lines[5] += "\t12\t13"
    c.counts_path.write_text("\n".join(lines) + "\n")


@writes_files
def binary_counts(c: Cohort) -> None:
    c.write()
    c.counts_path.write_bytes(gzip.compress(b"gene_id\tA\n")[:12])


def duplicate_gene(c: Cohort) -> None:
    c.counts.index = [*c.counts.index[:-1], c.counts.index[3]]


def duplicate_sample_in_sheet(c: Cohort) -> None:
    c.sheet.loc[len(c.sheet)] = c.sheet.iloc[0]


def duplicate_sample_in_counts(c: Cohort) -> None:
    c.counts.columns = [*c.counts.columns[:-1], c.counts.columns[0]]


def non_integer(c: Cohort) -> None:
    c.counts = c.counts.astype(float)
    _set(c.counts, 4, 2, 3.5)


def negative(c: Cohort) -> None:
    _set(c.counts, 6, 1, -3)


def nan_count(c: Cohort) -> None:
    c.counts = c.counts.astype(float)
    _set(c.counts, 2, 0, np.nan)


def text_count(c: Cohort) -> None:
    c.counts = c.counts.astype(object)
    _set(c.counts, 2, 0, "NA")


def sample_only_in_sheet(c: Cohort) -> None:
    c.counts = c.counts.drop(columns="P2_primary")


def sample_only_in_counts(c: Cohort) -> None:
    c.counts["P9_primary"] = 5


def unsafe_sample_name(c: Cohort) -> None:
    c.sheet.loc[0, "sample"] = "P1 normal/x"
    c.counts = c.counts.rename(columns={"P1_normal": "P1 normal/x"})


def design_column_missing(c: Cohort) -> None:
    c.config["design"] = "~ grade + site"


def contrast_level_absent(c: Cohort) -> None:
    c.config["contrasts"][0]["target"] = "primray"


def contrast_variable_not_in_design(c: Cohort) -> None:
    c.config["design"] = "~ patient + batch"


def too_few_samples(c: Cohort) -> None:
    c.sheet.loc[c.sheet["sample"].isin(["P2_normal", "P3_normal", "P4_normal"]), "site"] = "adjacent"


def confounded_design(c: Cohort) -> None:
    c.sheet["batch"] = np.where(c.sheet["site"] == "primary", "b1", "b2")
    c.config["design"] = "~ batch + site"


def all_zero(c: Cohort) -> None:
    c.counts.loc[:, :] = 0


def unknown_gene_id_type(c: Cohort) -> None:
    c.config["gene_id_type"] = "refseq"


def unknown_config_key(c: Cohort) -> None:
    c.config["desing"] = "~ site"


def unknown_geneset_source(c: Cohort) -> None:
    c.config["genesets"] = {"KEGG": {"source": "kegg"}}


def zero_read_sample(c: Cohort) -> None:
    c.counts["P2_primary"] = 0


def count_past_2_to_the_53(c: Cohort) -> None:
    c.counts = c.counts.astype(object)
    _set(c.counts, 3, 1, 2**63)  # wrapped to a negative int64 before


def design_with_python(c: Cohort) -> None:
    c.config["design"] = "~ patient + site + {len('x')}"


def contrast_design_with_a_call(c: Cohort) -> None:
    c.config["contrasts"][2]["design"] = "~ patient + C(site)"


def contrast_name_too_long(c: Cohort) -> None:
    c.config["contrasts"][0]["name"] = "c" * 101


def targets_contrast_missing(c: Cohort) -> None:
    c.config["contrasts"] = [x for x in c.config["contrasts"] if x["name"] != "liver_met_vs_normal"]


CASES = [
    (missing_counts, ["counts file", "no_such_counts.tsv", "does not exist"]),
    (missing_samples, ["samples file", "nowhere/samples.tsv", "does not exist"]),
    (garbled_counts, ["counts file", "cannot parse line 6 (it has 15 fields, the header has 13)"]),
    (binary_counts, ["counts file", "cannot be read"]),
    (duplicate_gene, ["counts file", "'ENSG00000037280'", "more than once", "lines 5, 61"]),
    (duplicate_sample_in_sheet, ["samples file", "'P1_normal'", "more than once"]),
    (duplicate_sample_in_counts, ["counts file", "'P1_normal'", "more than once in the header"]),
    (non_integer, ["line 6 (gene 'ENSG00000077782'), column 'P1_liver_met'", "3.5 is not an integer", "round"]),
    (negative, ["line 8", "column 'P1_primary'", "-3 is negative"]),
    (nan_count, ["line 4 (gene 'ENSG00000102755'), column 'P1_normal'", "empty or NaN"]),
    (text_count, ["line 4", "column 'P1_normal'", "'NA' is not a number"]),
    (sample_only_in_sheet, ["samples file", "'P2_primary'", "have no column in counts file"]),
    (sample_only_in_counts, ["counts file", "'P9_primary'", "are not in samples file"]),
    (unsafe_sample_name, ["line 2", "'P1 normal/x' is not a safe identifier", "letters, digits"]),
    (design_column_missing, ["design '~ grade + site'", "'grade'", "not in samples file"]),
    (contrast_level_absent, ["contrast 'primary_vs_normal'", "target level 'primray' does not occur",
                             "'site'"]),
    (contrast_variable_not_in_design, ["variable 'site' is not in its design '~ patient + batch'"]),
    (too_few_samples, ["group 'normal_pancreas' of 'site' has 1 sample(s)", "at least 2"]),
    (confounded_design, ["contrasts 'primary_vs_normal', 'liver_met_vs_normal', 'liver_met_vs_primary': design "
                         "'~ batch + site' is not full rank over its 12 samples",
                         "'site[T.primary]' = combination of", "'Intercept'", "'batch[T.b2]'"]),
    (all_zero, ["counts file", "every count is zero"]),
    (zero_read_sample, ["counts file", "sample(s) 'P2_primary' (0 reads) have fewer reads than min_library_size = 1",
                        "remove them", "or lower `min_library_size`"]),
    (count_past_2_to_the_53, ["line 5 (gene 'ENSG00000037280'), column 'P1_primary'", "'9223372036854775808' is "
                              "2^53 (9007199254740992) or more"]),
    (design_with_python, ["config: design '~ patient + site + {len('x')}' is not a valid formula ('{' at character "
                          "20 is not allowed)", "joined by '+'"]),
    (contrast_design_with_a_call, ["config: contrast 'liver_met_vs_primary': design '~ patient + C(site)' is not a "
                                   "valid formula (contrasts[2].design: '(' at character 14 is not allowed)"]),
    (contrast_name_too_long, ["config: contrasts[0].name: 'cccccccc", "does not match '^[A-Za-z0-9_.-]{1,100}$"]),
    (unknown_gene_id_type, ["gene_id_type = 'refseq' is not allowed", "auto, ensembl, entrez, symbol"]),
    (unknown_config_key, ["unknown key(s) 'desing'", "config/README.md"]),
    (targets_contrast_missing, ["targets file", "targets.yaml': contrasts.metastasis: 'liver_met_vs_normal' is not "
                                "a contrast of the workflow config", "set it to one of"]),
    (unknown_geneset_source, ["genesets.KEGG = {'source': 'kegg'} fits none of the allowed forms",
                              "{source: kegg_rest, base_url?, organism?}"]),
]


@pytest.mark.workflow
@pytest.mark.parametrize("edit, expected", CASES, ids=[case[0].__name__ for case in CASES])
def test_bad_input_stops_before_any_job(cohort: Cohort, edit, expected: list[str]) -> None:
    edit(cohort)
    if not getattr(edit, "writes_files", False):
        cohort.write()
    before = cohort.checksums()
    result = run_workflow(cohort.folder, cohort.config_path, "--cores", "1")
    assert result.returncode != 0
    errors = input_errors(result)
    assert errors, result.stderr[-2000:]
    message = "\n".join(errors)
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
    assert not (cohort.folder / "results").exists()
    assert cohort.checksums() == before  # inputs never modified


@pytest.mark.workflow
def test_several_problems_are_all_reported(cohort: Cohort) -> None:
    sample_only_in_sheet(cohort)
    contrast_level_absent(cohort)
    cohort.write()
    result = run_workflow(cohort.folder, cohort.config_path, "--cores", "1")
    errors = input_errors(result)
    assert len(errors) == 2
    assert "P2_primary" in errors[0] and "primray" in errors[1]

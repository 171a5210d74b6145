"""Hardening of the inputs (issue 14): the design grammar checked before formulaic sees a design, counts below
2^53, a floor on library sizes, enough genes left by the DE pre-filter, names that fit in file names, and a cap on
what a gzipped input may expand to."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, Cohort, input_errors, make_cohort, run_workflow, stopped_before_any_job
from target_rationale.cohort import design as design_module
from target_rationale.cohort import tables
from target_rationale.cohort.count_files import list_count_files, read_sample_counts
from target_rationale.cohort.design import (
    Contrast,
    check_contrasts,
    design_problems,
    design_variables,
    parse_contrasts,
    parse_design,
)
from target_rationale.cohort.geo_series import read_series_matrices
from target_rationale.cohort.ids import read_gene_id_map
from target_rationale.cohort.tables import MAX_COUNT, MAX_NAME_LENGTH, is_safe_name, read_counts, read_sample_sheet
from target_rationale.cohort.validation import (
    MIN_GENES_TESTED,
    filter_problems,
    library_size_problems,
    plan_inputs,
    validate_inputs,
)
from target_rationale.core.errors import InputError
from target_rationale.core.schema import config_problems, defaults, load_schema
from target_rationale.diffexp.model import prefilter, smallest_group
from target_rationale.genesets.gmt import read_gmt

CONTRAST = {"name": "c", "variable": "site", "target": "primary", "reference": "normal_pancreas"}

# ---- 1. the design grammar -----------------------------------------------------------------------------------

ACCEPTED = {
    "~ patient + site": ["patient", "site"],
    "~patient+site": ["patient", "site"],
    "  ~  site  ": ["site"],
    "~ site\n + patient": ["site", "patient"],
    "~ 1 + site": ["site"],
    "~ 0 + site": ["site"],
    "~ site + 0": ["site"],
    "~ site - 1": ["site"],
    "~ -1 + site": ["site"],
    "~ 1": [],
    "~ batch:site": ["batch", "site"],
    "~ batch*site + patient": ["batch", "site", "patient"],
    "~ a:b:c": ["a", "b", "c"],
    "~ tumor_grade2 + Site_B": ["tumor_grade2", "Site_B"],
}

REJECTED = {
    "~ patient + {__import__('os').system('touch pwned')}": "'{' at character 13 is not allowed",
    "~ {site}": "'{' at character 3",
    "~ C(site)": "'(' at character 4",
    "~ C(site, Treatment(reference='primary'))": "'('",
    "~ np.log(site)": "'.' at character 5",
    "~ I(site)": "'('",
    "~ site**2": "'2' at character 9 is not allowed",
    "~ site**x": "'*' at character 8 is not allowed there",
    "~ (a + b):c": "'(' at character 3",
    "~ a / b": "'/'",
    "~ a | b": "'|'",
    "~ `a b`": "'`'",
    "~ 'site'": '"\'" at character 3',
    "y ~ site": "it must start with '~'",
    "site": "it must start with '~'",
    "": "it must start with '~'",
    "~": "'~' is followed by no term",
    "~ site +": "it ends with an operator",
    "~ + site": "'+' at character 3 is not allowed there",
    "~ a ++ b": "'+' at character 6 is not allowed there",
    "~ a - b": "'b' at character 7 is not allowed there",
    "~ a - 0": "'0' at character 7 is not allowed there",
    "~ a b": "'b' at character 5 is not allowed there",
    "~ 2 + a": "'2' at character 3 is not allowed",
    "~ 1.5 + a": "'1' at character 3 is not allowed",
    "~ _a": "'_' at character 3",
    "~ 1a": "'1' at character 3",
    "~ a + None": "'None' at character 7 is a Python keyword",
    "~ lambda": "'lambda' at character 3 is a Python keyword",
    "~ a ~ b": "'~' at character 5 is not allowed there",
    "~ a:1": "'1' at character 5 is not allowed there",
    "~ site\n + C(x)": "'(' at character 12 is not allowed",
}


#: Python that formulaic would run, naming no other variable than a sample-sheet column (so that validation used to
#: pass it on to formulaic's model matrix, which evaluated it).
RUN_CODE = "patient.__class__.__init__.__globals__['sys'].modules['os'].system('touch {marker}')"


@pytest.mark.parametrize(("formula", "columns"), ACCEPTED.items(), ids=list(ACCEPTED))
def test_design_grammar_accepts(formula: str, columns: list[str]) -> None:
    assert parse_design(formula) == columns
    assert design_variables(formula) == sorted(columns)  # and formulaic reads it the same way
    assert design_problems(formula, [{**CONTRAST, "design": formula}]) == []


@pytest.mark.parametrize(("formula", "detail"), REJECTED.items(), ids=list(REJECTED))
def test_design_grammar_rejects_naming_the_key(formula: str, detail: str) -> None:
    with pytest.raises(design_module.DesignSyntaxError) as caught:
        parse_design(formula)
    assert detail in str(caught.value)
    top, *own = design_problems(formula, [CONTRAST, {**CONTRAST, "name": "d", "design": formula}])
    shown = formula.replace("\n", "\\n")
    assert top.startswith(f"config: design '{shown}' is not a valid formula (")
    assert len(own) == (1 if formula else 0)  # an empty `design:` of a contrast means the top-level one
    assert all(p.startswith(f"config: contrast 'd': design '{shown}' is not a valid formula (contrasts[1].design: ")
               for p in own)
    for problem in (top, *own):
        assert "\n" not in problem and detail in problem
        assert "joined by '+', with 'a:b' or 'a*b' for interactions" in problem
    with pytest.raises(InputError):
        design_variables(formula)


def test_a_rejected_design_never_reaches_formulaic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither validation nor planning hands a design outside the grammar to formulaic (which would run it)."""
    def forbidden(*args, **kwargs):
        raise AssertionError("formulaic was called")

    monkeypatch.setattr(design_module.formulaic, "Formula", forbidden)
    monkeypatch.setattr(design_module.formulaic, "model_matrix", forbidden)
    cohort = make_cohort(tmp_path / "c").write()
    marker = tmp_path / "pwned"
    evil = f"~ patient + {{{RUN_CODE.format(marker=marker)}}}"
    contrasts = [{**CONTRAST, "design": evil}, {**CONTRAST, "name": "d"}]
    with pytest.raises(InputError) as caught:
        plan_inputs("auto", evil, contrasts)
    assert [p.split(" is not a valid formula")[0] for p in caught.value.problems] == [
        f"config: design '{evil}'", f"config: contrast 'c': design '{evil}'"]
    with pytest.raises(InputError) as caught:
        validate_inputs(cohort.counts_path, cohort.samples_path, "auto", evil, contrasts)
    assert [p.split(" is not a valid formula")[0] for p in caught.value.problems] == [
        f"config: design '{evil}'", f"config: contrast 'c': design '{evil}'"]
    assert "(contrasts[0].design: '{' at character 13 is not allowed)" in caught.value.problems[1]
    assert check_contrasts(parse_contrasts(contrasts, evil), cohort.sheet.set_index("sample"), "samples.tsv") == []
    with pytest.raises(InputError):
        design_module.design_matrix(cohort.sheet, evil)
    assert not marker.exists()


@pytest.mark.workflow
@pytest.mark.parametrize("where", ["design", "contrasts[1].design"])
def test_a_design_that_runs_code_is_refused_by_a_dry_run(cohort: Cohort, tmp_path: Path, where: str) -> None:
    marker = tmp_path / "pwned"
    evil = f"~ patient + site + {{{RUN_CODE.format(marker=marker)}}}"
    if where == "design":
        cohort.config["design"] = evil
    else:
        cohort.config["contrasts"][1]["design"] = evil
    cohort.write()
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert result.returncode != 0
    assert not marker.exists(), "the design was executed"
    errors = input_errors(result)
    assert len(errors) == 1, result.stderr[-2000:]
    assert "is not a valid formula (" + ("" if where == "design" else "contrasts[1].design: ") in errors[0]
    assert "'{' at character 20 is not allowed" in errors[0]
    assert not (cohort.folder / "results").exists()


# ---- 2. counts of 2^53 or more -------------------------------------------------------------------------------


def _counts_file(tmp_path: Path, value: str, name: str = "counts.tsv") -> Path:
    path = tmp_path / name
    path.write_text(f"gene_id\tA\tB\nG1\t5\t{value}\nG2\t7\t3\n")
    return path


@pytest.mark.parametrize("value", [str(2**53), str(2**53 + 1), str(2**63 - 1), str(2**63), str(2**64),
                                   "123456789012345678901234567890", "9007199254740992.0", "1e16", "1e300"])
def test_counts_of_2_to_the_53_or_more_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(InputError) as caught:
        read_counts(_counts_file(tmp_path, value))
    message = str(caught.value)
    assert message.startswith(f"counts file '{tmp_path / 'counts.tsv'}', line 2 (gene 'G1'), column 'B': value '")
    assert f"is 2^53 ({MAX_COUNT}) or more (1 such cell(s))" in message and "\n" not in message


@pytest.mark.parametrize(("value", "expected"), [(str(2**53 - 4), 2**53 - 4), ("12.0", 12), ("1e3", 1000),
                                                 ("4503599627370497", 4503599627370497)])
def test_counts_below_2_to_the_53_are_read_exactly(tmp_path: Path, value: str, expected: int) -> None:
    counts = read_counts(_counts_file(tmp_path, value)).counts
    assert counts.dtypes.eq(np.int64).all() and int(counts.loc["G1", "B"]) == expected


def test_a_sample_whose_counts_sum_past_2_to_the_53_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "counts.tsv"
    path.write_text("gene_id\tA\tB\n" + "".join(f"G{i}\t5\t{2**52}\n" for i in range(3)))
    with pytest.raises(InputError, match=r"column 'B': the counts sum to 2\^53"):
        read_counts(path)


# ---- 3. library sizes ----------------------------------------------------------------------------------------


def test_zero_read_samples_are_named_with_their_reads(tmp_path: Path) -> None:
    cohort = make_cohort(tmp_path / "c")
    cohort.counts["P2_primary"] = 0
    cohort.counts.loc[cohort.counts.index[0], "P3_normal"] = 0
    cohort.write()
    with pytest.raises(InputError) as caught:
        validate_inputs(cohort.counts_path, cohort.samples_path, "auto", "~ patient + site", [])
    assert caught.value.problems == [
        f"counts file '{cohort.counts_path}': sample(s) 'P2_primary' (0 reads) have fewer reads than "
        f"min_library_size = 1; remove them (their rows in samples file '{cohort.samples_path}' and their columns "
        "in the counts file), or lower `min_library_size` in the config"]
    assert defaults("config")["min_library_size"] == 1


def test_min_library_size_is_a_configurable_floor() -> None:
    counts = pd.DataFrame({"A": [5, 0], "B": [500, 600], "C": [10, 20]}, index=["G1", "G2"])
    assert library_size_problems(counts, "c.tsv", "s.tsv", 31) == [
        "counts file 'c.tsv': sample(s) 'A' (5 reads), 'C' (30 reads) have fewer reads than min_library_size = 31; "
        "remove them (their rows in samples file 's.tsv' and their columns in the counts file), or lower "
        "`min_library_size` in the config"]
    assert "sample(s) 'A' (5 reads) have" in library_size_problems(counts, "c.tsv", "s.tsv", 30)[0]
    assert library_size_problems(counts, "c.tsv", "s.tsv", 5) == []
    assert config_problems({"design": "~ a", "contrasts": [CONTRAST], "min_library_size": 0},
                           load_schema("config")) == [
        "config: min_library_size: 0 is less than the minimum of 1; give a value >= 1"]


# ---- 4. genes left by the DE pre-filter ----------------------------------------------------------------------


def _fits(contrasts: list[dict], design: str = "~ patient + site") -> dict[str, list[Contrast]]:
    fits: dict[str, list[Contrast]] = {}
    for contrast in parse_contrasts(contrasts, design):
        fits.setdefault(str(contrast.fit_key), []).append(contrast)
    return fits


def test_filter_problems_names_each_fit_short_of_genes(tmp_path: Path) -> None:
    cohort = make_cohort(tmp_path / "c")
    sheet = cohort.sheet.set_index("sample")
    subset = {"site": ["primary", "liver_metastasis"]}
    fits = _fits([{**CONTRAST, "name": "all"},
                  {"name": "met", "variable": "site", "target": "liver_metastasis", "reference": "primary",
                   "samples": subset}])
    counts = cohort.counts.copy()
    assert filter_problems(counts, sheet, fits, 10, None) == []
    huge = int(counts.to_numpy().max()) + 1
    problems = filter_problems(counts, sheet, fits, huge, None, "counts.tsv")
    assert problems == [
        f"config: contrast 'all': only 0 of the 60 genes of counts file 'counts.tsv' have >= {huge} reads "
        "(diffexp.min_count) in >= 4 of the 12 samples of its model fit (diffexp.min_samples: null, the smallest "
        f"compared group); the fit needs at least {MIN_GENES_TESTED}: lower diffexp.min_count or "
        "diffexp.min_samples, or give a count matrix with more genes",
        problems[1]]
    assert "contrast 'met': only 0 of the 60 genes" in problems[1] and "in >= 4 of the 8 samples" in problems[1]
    # genes kept only in the samples outside the 'met' subset do not count for it
    normal = sheet.index[sheet["site"] == "normal_pancreas"]
    counts.loc[counts.index[:5], normal] = huge
    counts.loc[counts.index[5:8], :] = huge
    assert filter_problems(counts, sheet, fits, huge, None) == []
    counts.loc[counts.index[6:8], :] = 0
    assert [p.split(":")[1] for p in filter_problems(counts, sheet, fits, huge, None)] == [" contrast 'met'"]
    assert filter_problems(counts, sheet, fits, huge, 2)[0].count("in >= 2 of the 8 samples") == 1


def test_filter_problems_agrees_with_the_fit_s_own_prefilter(tmp_path: Path) -> None:
    cohort = make_cohort(tmp_path / "c", n_genes=200)
    sheet = cohort.sheet.set_index("sample")
    fits = _fits([{**CONTRAST, "name": "a", "samples": {"patient": ["P1", "P2", "P3"]}}])
    contrasts = next(iter(fits.values()))
    subset = design_module.select_samples(sheet, contrasts[0].samples)
    highest = sorted(set(cohort.counts.loc[:, subset.index].to_numpy().ravel()))[-30:]  # few genes pass these
    for min_count in (10, 400, *highest):
        for min_samples in (None, 1, 5):
            kept = prefilter(cohort.counts.loc[:, subset.index].T, min_count,
                             min_samples or smallest_group(subset, contrasts))
            short = bool(filter_problems(cohort.counts, sheet, fits, min_count, min_samples))
            assert short == (int(kept.sum()) < MIN_GENES_TESTED), (min_count, min_samples, int(kept.sum()))


# ---- 5. names that fit in file names -------------------------------------------------------------------------


def test_names_are_matched_whole_and_capped() -> None:
    assert is_safe_name("P1_normal.a-b") and is_safe_name("x" * MAX_NAME_LENGTH)
    for name in ("P1\n", "P1\r\n", "\nP1", "x" * (MAX_NAME_LENGTH + 1), "a b", ".", "..", ""):
        assert not is_safe_name(name), repr(name)


def test_contrast_names_with_a_newline_or_too_long_are_refused() -> None:
    long = "c" * (MAX_NAME_LENGTH + 1)
    contrasts = [{**CONTRAST, "name": "trailing\n"}, {**CONTRAST, "name": long}]
    with pytest.raises(InputError) as caught:
        plan_inputs("auto", "~ patient + site", contrasts)
    assert caught.value.problems == [
        "config: contrast 'trailing\\n': the name is not a safe identifier; use only letters, digits, '_', '-' and "
        "'.' (it is used in file paths)",
        f"config: contrast '{long}': the name is {MAX_NAME_LENGTH + 1} characters long; use at most "
        f"{MAX_NAME_LENGTH} (it is used in file paths)"]
    sheet = pd.DataFrame({"patient": ["a", "b"] * 2, "site": ["primary", "normal_pancreas"] * 2},
                         index=pd.Index(list("wxyz"), name="sample"))
    assert check_contrasts(parse_contrasts(contrasts, "~ site"), sheet, "s.tsv")[:2] == caught.value.problems
    schema = load_schema("config")
    config = {"design": "~ a", "contrasts": [{**CONTRAST, "name": "c\n"}], "genesets": {"GO\n": {"gmt": "x"},
                                                                                        "G" * 101: {"gmt": "y"}}}
    problems = config_problems(config, schema)
    assert len(problems) == 3 and all("does not match" in p for p in problems), problems


def test_sample_names_too_long_are_refused(tmp_path: Path) -> None:
    long = "s" * (MAX_NAME_LENGTH + 1)
    path = tmp_path / "samples.csv"
    path.write_text(f"sample,site\nP1,a\n{'s' * MAX_NAME_LENGTH},b\n{long},c\n")
    with pytest.raises(InputError) as caught:
        read_sample_sheet(path)
    assert caught.value.problems == [
        f"samples file '{path}', line 4: sample name '{long}' is {MAX_NAME_LENGTH + 1} characters long; use at most "
        f"{MAX_NAME_LENGTH} (it is used in file paths), and rename the matching counts column too"]


# ---- 6. gzip bombs -------------------------------------------------------------------------------------------

LIMIT = 1024**2  # the cap, lowered for the tests; the bombs expand to 8x that


@pytest.fixture
def low_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(tables, "MAX_UNCOMPRESSED_BYTES", LIMIT)
    return LIMIT


def _bomb(header: bytes, path: Path | None = None) -> bytes:
    """A gzip of ``header`` then 8 MiB of zeros (a few KiB compressed)."""
    data = gzip.compress(header + b"0" * (8 * LIMIT), mtime=0)
    assert len(data) < LIMIT // 20
    if path is not None:
        path.write_bytes(data)
    return data


def test_gzipped_counts_and_sheet_are_capped(tmp_path: Path, low_cap: int) -> None:
    counts, samples = tmp_path / "counts.tsv.gz", tmp_path / "samples.tsv.gz"
    _bomb(b"gene_id\tA\nG1\t", counts)
    _bomb(b"sample\tsite\nA\t", samples)
    for read, path, what in ((read_counts, counts, "counts"), (read_sample_sheet, samples, "samples")):
        with pytest.raises(InputError) as caught:
            read(path)
        assert caught.value.problems == [
            f"{what} file '{path}' expands to more than 1 MiB when gunzipped (the workflow's limit, "
            "MAX_UNCOMPRESSED_BYTES in target_rationale/cohort/tables.py; no real input comes near it): check that "
            "the right file is configured"]
    small = tmp_path / "small.tsv.gz"
    small.write_bytes(gzip.compress(b"gene_id\tA\nG1\t5\n") + gzip.compress(b"G2\t7\n"))  # two gzip members
    assert read_counts(small).counts["A"].tolist() == [5, 7]


def test_gzipped_gmt_gene_id_map_and_series_matrix_are_capped(tmp_path: Path, low_cap: int) -> None:
    gmt, id_map, matrix = tmp_path / "sets.gmt.gz", tmp_path / "map.tsv.gz", tmp_path / "GSE1_series_matrix.txt.gz"
    _bomb(b"T1\tterm\tA\tB\t", gmt)
    _bomb(b"ensembl_gene_id\tentrez_id\tsymbol\tgene_type\nENSG1\t1\tA\t", id_map)
    _bomb(b"!Sample_geo_accession\t\"GSM1\"\n!Sample_title\t\"", matrix)
    with pytest.raises(InputError, match=rf"^GMT file '{re.escape(str(gmt))}' expands to more than 1 MiB when "):
        read_gmt(gmt)
    with pytest.raises(InputError, match=rf"^gene id map '{re.escape(str(id_map))}' expands to more than 1 MiB"):
        read_gene_id_map(id_map)
    with pytest.raises(InputError, match=rf"^series matrix '{re.escape(str(matrix))}' expands to more than 1 MiB"):
        read_series_matrices([matrix])
    # below the cap they read as before
    shipped = REPO / "resources" / "genesets" / "go_bp.gmt.gz"
    small = tmp_path / "small.gmt.gz"
    small.write_bytes(gzip.compress(b"T1\tterm one\tA\tB\nT2\thttp://x\tC\n"))
    assert [(s.term_name, s.genes) for s in read_gmt(small).values()] == [("term one", ("A", "B")), ("T2", ("C",))]
    assert shipped.stat().st_size < LIMIT < len(gzip.decompress(shipped.read_bytes()))  # so: capped, not read
    with pytest.raises(InputError):
        read_gmt(shipped)


def test_per_sample_count_files_are_capped(tmp_path: Path, low_cap: int) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    _bomb(b"G1\t", folder / "P1.counts.txt.gz")
    (folder / "P2.counts.txt").write_text("G1\t5\n")
    files = list_count_files(folder)
    file_of = pd.Series({"P1": "P1.counts.txt.gz", "P2": "P2.counts.txt"})
    with pytest.raises(InputError, match=rf"^counts file '{re.escape(str(folder))}/P1.counts.txt.gz' expands to "):
        read_sample_counts(files, file_of)
    # a tar compressed as a whole: its member's size is checked before the member is read
    archive = tmp_path / "GSE1_RAW.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (("P1.counts.txt", b"G1\t5\n" + b"0" * (2 * LIMIT)), ("P2.counts.txt", b"G1\t5\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert archive.stat().st_size < LIMIT
    files = list_count_files(archive)
    with pytest.raises(InputError, match=rf"^counts file '{re.escape(str(archive))}:P1.counts.txt' is "
                                         rf"{2 * LIMIT + 5} bytes, more than the workflow's limit of {LIMIT} "):
        read_sample_counts(files, pd.Series({"P1": "P1.counts.txt", "P2": "P2.counts.txt"}))
    counts, _ = read_sample_counts(files, pd.Series({"P2": "P2.counts.txt"}))
    assert counts.to_dict() == {"P2": {"G1": 5}}


# ---- the checks above in a run (once workflow/rules/common.smk calls them) -----------------------------------

def _input_errors(cohort: Cohort) -> list[str]:
    return [line.removeprefix("Input error: ") for line in stopped_before_any_job(cohort)]


@pytest.mark.workflow
@pytest.mark.parametrize("case", ["min_count", "one_gene"])
def test_too_few_genes_for_a_fit_stop_the_run(cohort: Cohort, case: str) -> None:
    if case == "min_count":
        cohort.config["diffexp"] = {"min_count": int(cohort.counts.to_numpy().max()) + 1}
    else:
        cohort.counts = cohort.counts.iloc[:1]
    errors = _input_errors(cohort)
    assert len(errors) == 2, errors  # one per fit (shrinkage: one fit per reference level)
    assert errors[0].startswith("config: contrasts 'primary_vs_normal', 'liver_met_vs_normal': only 0 of the "
                                if case == "min_count" else "config: contrasts 'primary_vs_normal', "
                                "'liver_met_vs_normal': only 1 of the 1 genes")
    assert f"the fit needs at least {MIN_GENES_TESTED}" in errors[0] and "lower diffexp.min_count" in errors[0]


@pytest.mark.workflow
def test_min_library_size_stops_the_run_and_long_fit_definitions_do_not(cohort: Cohort) -> None:
    cohort.config["min_library_size"] = int(cohort.counts.sum().sort_values().iloc[1]) + 1
    low = list(cohort.counts.sum().sort_values().index[:2])
    long = {f"P{i}": f"P{i}_" + "x" * 60 for i in range(1, 5)}
    cohort.sheet["patient"] = cohort.sheet["patient"].map(long)
    cohort.config["contrasts"][0]["samples"] = {"patient": list(long.values())}
    errors = _input_errors(cohort)
    assert errors[0].startswith(f"counts file 'counts.tsv': sample(s) '{low[0]}' (")
    assert f"'{low[1]}' (" in errors[0] and f"min_library_size = {cohort.config['min_library_size']}" in errors[0]
    cohort.config["min_library_size"] = 1
    cohort.write()
    result = run_workflow(cohort.folder, cohort.config_path, "-n")  # long subset values: the fit name stays short
    assert result.returncode == 0, result.stderr[-2000:]

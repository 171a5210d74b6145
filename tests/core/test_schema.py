"""The config schema is the one source of defaults: settings objects take theirs from it, and config/README.md
documents every key with the schema's default."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, Cohort, input_errors, run_workflow
from target_rationale.core.errors import InputError
from target_rationale.core.schema import (
    MAX_VALUE_CHARS,
    MAX_YAML_ALIASES,
    MAX_YAML_BYTES,
    config_file_problem,
    config_problems,
    defaults,
    load_schema,
    load_yaml,
    pick,
    short,
    with_defaults,
)
from target_rationale.diffexp.settings import FitSettings, WaldSettings
from target_rationale.enrichment.settings import EnrichSettings
from target_rationale.targets.config import load_targets

README = (REPO / "config" / "README.md").read_text()


def readme_rows() -> dict[str, str]:
    """``{key: default cell}`` of every key row of config/README.md (a row may name several keys)."""
    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        keys = re.findall(r"`([^`]+)`", cells[0])
        prefix = keys[0].rsplit(".", 1)[0] + "." if "." in keys[0] else ""
        for key in keys:
            rows[key if "." in key or not prefix else prefix + key] = cells[1]
    return rows


def renderings(value) -> set[str]:
    """Ways the README may write a default value."""
    if isinstance(value, bool):
        return {"true" if value else "false"}
    if value is None:
        return {"null"}
    if isinstance(value, list):
        return {", ".join(map(str, value))}
    if isinstance(value, dict):  # lists inside as YAML writes them: [a, b]
        return {"{" + ", ".join(f"{k}: " + (f"[{', '.join(map(str, v))}]" if isinstance(v, list) else f"{v}")
                                for k, v in value.items()) + "}"}
    if isinstance(value, float | int):
        return {str(value), f"{value:g}"}
    return {str(value), f'"{value}"'}


def documented_keys() -> list[tuple[str, object]]:
    """Every scalar or list config key with a default, as ``section.key``."""
    schema = load_schema("config")
    keys = []
    for name, spec in schema["properties"].items():
        if spec.get("type") == "object" and "properties" in spec:
            keys += [(f"{name}.{key}", sub.get("default")) for key, sub in spec["properties"].items()]
        elif not isinstance(spec.get("default"), dict | list) or name in ("contrasts",):
            keys.append((name, spec.get("default")))
    return keys


@pytest.mark.parametrize(("key", "default"), documented_keys(), ids=[k for k, _ in documented_keys()])
def test_readme_documents_every_key_with_the_schema_default(key: str, default) -> None:
    rows = readme_rows()
    assert key in rows, f"config/README.md has no row for `{key}`"
    if key == "contrasts" or default is None and (rows[key] in ("", "all contrasts")
                                                  or rows[key].startswith("required unless")):
        return  # the three default contrasts are spelled out below the table; null as the README words it
    cell = rows[key].replace("`", "")
    assert any(r in cell for r in renderings(default)), f"`{key}`: README says {rows[key]!r}, schema {default!r}"


def test_readme_names_the_default_collections() -> None:
    # a mapping default (not checked above): the README's cell names exactly the schema's collections, first
    cell = readme_rows()["genesets"].replace("`", "")
    named = re.findall(r"[A-Za-z_]+", cell.split("(")[0])
    assert named == list(defaults("config")["genesets"]), f"`genesets`: README says {cell!r}"


@pytest.mark.parametrize("name", ["config", "samples", "targets"])
def test_schema_reads_as_pyyamls_pure_python_safe_loader_reads_it(name: str) -> None:
    text = (REPO / "workflow" / "schemas" / f"{name}.schema.yaml").read_text(encoding="utf-8")
    schema = load_schema(name)
    assert schema == yaml.safe_load(text) and schema["properties"]


def test_settings_take_their_defaults_from_the_schema() -> None:
    diffexp = defaults("config", "diffexp")
    assert FitSettings.from_config() == FitSettings(**{k: diffexp[k] for k in FitSettings.__dataclass_fields__})
    assert WaldSettings.from_config({"alpha": 0.1}).alpha == 0.1
    assert WaldSettings.from_config().alpha == diffexp["alpha"] == 0.05
    assert EnrichSettings.from_config().gsea_eps == defaults("config", "enrichment")["gsea_eps"] == 1e-50
    assert with_defaults(None, "config", "report")["question"] == ""


def test_jobs_get_only_the_keys_they_read() -> None:
    section = {**defaults("config", "diffexp"), "highlight": ["X"]}
    assert "highlight" not in pick(section, FitSettings) and "alpha" not in pick(section, FitSettings)
    assert set(pick(section, WaldSettings)) == {"alpha", "lfc_threshold", "independent_filter", "shrink", "engine"}
    enrichment = {**defaults("config", "enrichment"), "curves": ["GO:1"]}
    assert "curves" not in pick(enrichment, EnrichSettings) and "gsea_fdr" not in pick(enrichment, EnrichSettings)


def test_integer_keys_refuse_floats_and_errors_say_the_fix() -> None:
    problems = config_problems({**VALID, "seed": 4.0, "enrichment": {"gsea_nperm": 1000.0},
                                "diffexp": {"alpha": -1}}, load_schema("config"))
    assert "config: seed: 4.0 is not of type 'integer'; give a whole number without a decimal point (e.g. 42)" \
        in problems
    assert any(p.startswith("config: enrichment.gsea_nperm: 1000.0 is not of type 'integer'") for p in problems)
    assert any(p.startswith("config: diffexp.alpha") and p.endswith("; give a value > 0") for p in problems)
    assert config_problems({**VALID, "seed": 4}, load_schema("config")) == []


def test_config_problems_name_each_key() -> None:
    problems = config_problems({"design": "~ site", "contrasts": [], "diffexp": {"alpah": 1, "min_count": -1}},
                               load_schema("config"))
    assert any("unknown key(s) 'alpah' at diffexp" in p for p in problems)
    assert any("diffexp.min_count" in p and "minimum" in p for p in problems)


# ---------------------------------------------------------------------------------------------------------------
# What the schema cannot say: non-finite numbers, keys that must agree, values too large to check

VALID = {"design": "~ site", "contrasts": [{"name": "a", "variable": "site", "target": "b", "reference": "c"}]}


def problems_of(text: str) -> list[str]:
    """config_problems of a valid config with the YAML ``text`` added."""
    return config_problems({**VALID, **yaml.safe_load(text)}, load_schema("config"))


@pytest.mark.parametrize(("text", "key"), [
    ("diffexp: {alpha: .nan}", "diffexp.alpha"),
    ("diffexp: {lfc_threshold: .inf}", "diffexp.lfc_threshold"),
    ("enrichment: {gsea_eps: .nan}", "enrichment.gsea_eps"),
    ("enrichment: {ora_min_lfc: .inf}", "enrichment.ora_min_lfc"),
    ("cohort: {folder: f, samples: s, filter: {grade: [1, -.inf]}}", "cohort.filter.grade[1]"),
])
def test_non_finite_numbers_are_one_line_naming_the_key(text: str, key: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"config: {key} = ") and "is not a finite number" in problems[0]


def test_non_finite_value_the_schema_also_refuses_is_reported_once() -> None:
    problems = problems_of("diffexp: {alpha: .inf, highlight: [EGFR, .nan]}")
    assert [p.split(":")[1].split()[0] for p in problems] == ["diffexp.alpha", "diffexp.highlight[1]"]


WITH_BOUNDS = {"seed": {"minimum": 0, "maximum": 4294967295}, "geneset_cache": {"minLength": 1}}


def schema_with_bounds() -> dict:
    """The config schema with the bounds it may gain (``WITH_BOUNDS``): the lines must stay one per key."""
    schema = copy.deepcopy(load_schema("config"))
    for key, bounds in WITH_BOUNDS.items():
        schema["properties"][key].update(bounds)
    return schema


@pytest.mark.parametrize("schema", [load_schema("config"), schema_with_bounds()], ids=["schema", "with-bounds"])
@pytest.mark.parametrize(("text", "expected"), [
    ("seed: -1", "config: seed: -1 is less than the minimum of 0"),  # the schema's bounds
    ("seed: 4294967296", "config: seed: 4294967296 is greater than the maximum of 4294967295"),
    ("enrichment: {min_size: 600}", "config: enrichment.min_size = 600 is larger than enrichment.max_size = 500 "
                                    "(the default)"),
    ("enrichment: {min_size: 20, max_size: 15}", "config: enrichment.min_size = 20 is larger than "
                                                 "enrichment.max_size = 15, so no gene set"),
    ("geneset_cache: ''", "config: geneset_cache: '' should be non-empty"),
    ("geneset_cache: '  '", "config: geneset_cache = '  ' names no folder"),
])
def test_values_the_workflow_cannot_use_stop_before_any_job(schema: dict, text: str, expected: str) -> None:
    problems = config_problems({**VALID, **yaml.safe_load(text)}, schema)
    assert len(problems) == 1, problems
    key = expected.split()[1]
    if key in WITH_BOUNDS and schema["properties"][key] != load_schema("config")["properties"][key] and \
            problems[0].startswith(f"config: {key}: "):
        return  # the schema's own bound said it first (e.g. "-1 is less than the minimum of 0"): one line still
    assert problems[0].startswith(expected), problems


@pytest.mark.parametrize("text", ["seed: 0", "seed: 4294967295", "enrichment: {min_size: 15, max_size: 15}",
                                  "geneset_cache: cache", "diffexp: {alpha: 1.0e-3}"])
def test_edge_values_that_work_pass(text: str) -> None:
    assert problems_of(text) == []


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" YAML: ``levels`` lists of ``width`` aliases of the list before (9^9 strings)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["diffexp: {{highlight: *l{top}}}", "report: {{title: *l{top}}}",
                                   "enrichment: {{curves: [*l{top}, *l{top}]}}", "genesets: {{X: {{gmt: *l{top}}}}}"])
def test_alias_bomb_in_the_config_is_one_short_line_and_fast(where: str) -> None:
    text = "bombs:\n" + "".join(f"  {line}\n" for line in alias_bomb().splitlines())
    config = {**VALID, **yaml.safe_load(text.replace("bombs:", "x_bombs:") + where.format(top=8))}
    config.pop("x_bombs")  # only the alias below is left: the key's value is 9^9 strings
    started = time.perf_counter()
    problems = config_problems(config, load_schema("config"))
    assert time.perf_counter() - started < 30  # expanding 9^9 values would take hours; a loaded CI machine, seconds
    assert len(problems) == 1 and len(problems[0]) < 300, problems
    assert "holds more than 100,000 values once YAML aliases" in problems[0]


def test_long_values_are_cut_in_error_lines() -> None:
    long = "x" * 5000
    for extra in ({"diffexp": {"alpha": long}}, {"gene_id_type": long}, {long: 1}, {"genesets": {long: 1}},
                  {"diffexp": {"highlight": [[long]]}}, {"cohort": {"geo": long}}, {"seed": int("9" * 4000)},
                  {"contrasts": [{long: 1}] * 20}):
        problems = config_problems({**VALID, **extra}, load_schema("config"))
        # the value's 80 characters, plus at most the list of allowed keys
        assert problems and all(len(p) < 400 and "\n" not in p for p in problems), (str(extra)[:40], problems)
        assert any(re.search(rf"[x9]{{{MAX_VALUE_CHARS - 20},{MAX_VALUE_CHARS}}}\.\.\.", p) for p in problems)


def test_short_is_repr_for_small_values_and_cut_otherwise() -> None:
    for value in ("a", 1, 0.5, None, True, ["a", 1], {"a": [1, {"b": None}]}, ()):
        assert short(value) == repr(value if not isinstance(value, tuple) else list(value))
    assert short("y" * 100) == repr("y" * 100)[:MAX_VALUE_CHARS] + "..."
    nested: list = []
    for _ in range(10_000):  # deeper than Python's recursion limit
        nested = [nested]
    assert short(nested) == "[" * MAX_VALUE_CHARS + "..."
    assert short(yaml.safe_load(alias_bomb() + "top: *l8\n")["top"]).endswith("...")


def test_targets_file_alias_bomb_is_one_short_line_and_fast(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    for text in (alias_bomb() + "axes: {EGFR: {receptors: *l8}}\n",  # 9^9 values
                 alias_bomb(3, 3) + "".join(f"a{i}: *l2\n" for i in range(MAX_YAML_ALIASES)),  # too many aliases
                 "axes: &a {EGFR: {receptors: [*a]}}\n",  # contains itself
                 "axes: " + "[" * 100_000 + "]" * 100_000 + "\n"):  # nested deeper than the parser can follow
        path.write_text(text)
        started = time.perf_counter()
        with pytest.raises(InputError) as caught:
            load_targets(path)
        assert time.perf_counter() - started < 30  # as above: a bound on blow-up, not a speed target
        assert len(caught.value.problems) == 1, caught.value.problems
        line = caught.value.problems[0]
        assert line.startswith(f"targets file '{path}' ") and len(line) < 300 and "\n" not in line, line


def test_targets_file_too_large_or_with_long_values(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("# " + "x" * MAX_YAML_BYTES + "\n")
    with pytest.raises(InputError, match=r"is 1,048,579 bytes; at most 1,048,576 are read$"):
        load_targets(path)
    shipped = yaml.safe_load((REPO / "config" / "targets.yaml").read_text())
    long = "z" * 5000
    shipped["drugs"][long] = {"targets": [long]}
    shipped["flag"] = {"score_p": long, "min_lines": float("nan")}
    shipped["contrasts"] = {"metastasis": long, "primary": long}
    path.write_text(yaml.safe_dump(shipped))
    with pytest.raises(InputError) as caught:
        load_targets(path)
    assert len(caught.value.problems) >= 3
    assert all(len(p) < 300 for p in caught.value.problems), caught.value.problems
    assert any("flag.min_lines" in p for p in caught.value.problems)


@pytest.mark.workflow
def test_workflow_stops_on_such_values_before_any_job(cohort: Cohort) -> None:
    text = yaml.safe_dump({**cohort.config, "seed": -1, "diffexp": {"alpha": float("nan")}}, sort_keys=False)
    cohort.write()
    cohort.config_path.write_text(alias_bomb() + text + "enrichment: {curves: *l8}\n")
    started = time.perf_counter()
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert time.perf_counter() - started < 60
    assert result.returncode != 0
    lines = input_errors(result)
    assert [line.split()[3] for line in lines] == ["l5", "l6", "l7", "l8", "enrichment"], result.stderr[-3000:]
    assert lines[-1] == ("Input error: config: enrichment holds more than 100,000 values once YAML aliases (*name) are "
                         "expanded; write its values out (an alias bomb is not a config)")
    cohort.config_path.write_text(text)
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    lines = input_errors(result)
    assert len(lines) == 2, result.stderr[-3000:]
    assert ("Input error: config: diffexp.alpha = nan is not a finite number; give a number (see "
            "config/README.md)") in lines
    assert any(line.startswith("Input error: config: seed") and "-1" in line for line in lines)
    assert not (cohort.folder / "results").exists()


@pytest.mark.parametrize("text, expected", [
    ('design: [ "~ patient + site"\ncontrasts: []\n', "line 2, column 1: expected ',' or ']', but got '<scalar>' "
     "(in the flow sequence of line 1, column 9); fix the YAML there"),
    ("seed: 1\n  alpha: 2\n", "line 2, column 8: mapping values are not allowed here; fix the YAML there"),
    ('title: "open\n', "line 2, column 1: found unexpected end of stream (in the quoted scalar of line 1, "
     "column 8); fix the YAML there"),
], ids=["flow-sequence", "indent", "quote"])
def test_a_yaml_syntax_error_is_one_line_naming_its_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_yaml(path, "config file")
    assert str(info.value) == f"config file '{path}' is not valid YAML: {expected}"


@pytest.mark.workflow
def test_the_default_config_with_a_yaml_error_stops_the_run_naming_its_line(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    text = (REPO / "config" / "config.yaml").read_text().replace('design: "~ patient + site"',
                                                                 'design: ["~ patient + site"', 1)
    assert text != (REPO / "config" / "config.yaml").read_text()
    (tmp_path / "config" / "config.yaml").write_text(text)
    result = subprocess.run([*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode != 0
    lines = input_errors(result)
    line = next(i + 1 for i, row in enumerate(text.splitlines()) if row.startswith("design:"))
    assert lines == [f"Input error: config file 'config/config.yaml' is not valid YAML: line {line + 1}, column 1: "
                     f"expected ',' or ']', but got '<scalar>' (in the flow sequence of line {line}, column 9); "
                     f"fix the YAML there"], result.stderr[-3000:]
    assert not (tmp_path / "results").exists()


def test_a_config_file_snakemake_reads_has_no_problem_and_one_it_cannot_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({"design": "~ site", "seed": 1}, indent="\t"))  # JSON with tabs: Snakemake reads it
    assert config_file_problem(path) is None
    path.write_text('design: [ "~ site"\nseed: 1\n')
    assert config_file_problem(path) == (f"config file '{path}' is not valid YAML: line 2, column 1: expected ',' or "
                                         "']', but got '<scalar>' (in the flow sequence of line 1, column 9); fix "
                                         "the YAML there")
    assert config_file_problem(tmp_path / "absent.yaml") is None  # Snakemake names a missing file itself

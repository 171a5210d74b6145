"""Target axes configuration (``targets.config``): the shipped file, the schema as the one source of defaults, and
one line per schema problem naming the key.

All inputs are hand-made; nothing runs the workflow.
"""

from __future__ import annotations

from dataclasses import MISSING, fields

import pytest
import yaml
from axis_inputs import MET, PRIM, write_targets
from conftest import REPO
from target_rationale.core.errors import InputError
from target_rationale.targets.config import SCHEMA_PATH, FlagRule, Targets, load_targets


def test_shipped_targets_load_with_the_four_axes_the_five_drugs_and_the_default_rule() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml", contrasts=[PRIM, MET, "liver_met_vs_primary"])
    assert list(targets.axes) == ["EGFR", "VEGFR", "FGFR", "CSF1R"]
    assert set(targets.drugs) == {"surufatinib", "sorafenib", "gefitinib", "sunitinib", "everolimus"}
    assert targets.drugs["surufatinib"].targets == ("FLT1", "KDR", "FLT4", "FGFR1", "CSF1R")
    assert "hsa01521" in targets.axes["EGFR"].terms and "HALLMARK_ANGIOGENESIS" in targets.axes["VEGFR"].terms
    assert targets.axes["CSF1R"].genes["CSF1R"] == "receptor"  # listed as marker too; receptor wins
    assert targets.axes["VEGFR"].caveat and targets.axes["CSF1R"].caveat
    assert targets.flag == FlagRule.from_config()
    assert (targets.metastasis, targets.primary) == (MET, PRIM)


def test_the_schema_is_the_one_source_of_the_flag_rule_and_contrast_defaults(tmp_path) -> None:
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    defaults = {k: v["default"] for k, v in schema["properties"]["flag"]["properties"].items()}
    assert vars(FlagRule.from_config()) == defaults
    assert FlagRule.from_config({"min_lines": 3}) == FlagRule(**{**defaults, "min_lines": 3})
    for cls in (FlagRule, Targets):  # no default written twice: the dataclasses declare none
        assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(cls)), cls
    minimal = write_targets(tmp_path, {"axes": {"A": {"receptors": ["R"]}}, "drugs": {"d": {"targets": ["R"]}}})
    targets = load_targets(minimal)
    assert targets.flag == FlagRule(**defaults)
    assert (targets.metastasis, targets.primary) == tuple(schema["properties"]["contrasts"]["default"].values())
    partial = write_targets(tmp_path, {"axes": {"A": {"receptors": ["R"]}}, "drugs": {"d": {"targets": ["R"]}},
                                       "flag": {"score_p": 0.01}, "contrasts": {"primary": "other"}}, "partial.yaml")
    targets = load_targets(partial)
    assert targets.flag == FlagRule(**{**defaults, "score_p": 0.01})
    assert (targets.metastasis, targets.primary) == (schema["properties"]["contrasts"]["default"]["metastasis"],
                                                     "other")


@pytest.mark.parametrize(("data", "expected"), [
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"note": "no targets"}}},
     "drugs.crizotinib: missing required key(s) 'targets'"),
    ({"axes": {"MET": {"receptors": []}}, "drugs": {"crizotinib": {"targets": ["MET"]}}},
     "axes.MET.receptors: must list at least one gene symbol"),
    ({"axes": {"MET": {"receptors": ["MET"], "ligand": ["HGF"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}}},
     "axes.MET: unknown key(s) 'ligand'"),
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}},
      "flag": {"min_lines": 4}}, "flag.min_lines: 4 is greater than the maximum of 3"),
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}},
      "flag": {"score_p": "0.05"}}, "flag.score_p: '0.05' is not of type 'number'"),
    ({"axes": {"bad name": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}}},
     "axes: name 'bad name' is not allowed"),
    ({"drugs": {"crizotinib": {"targets": ["MET"]}}}, "(top level): missing required key(s) 'axes'"),
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}},
      "contrasts": {"metastasis": "a", "primary": "a"}}, "contrasts: metastasis and primary are both 'a'"),
])
def test_schema_problems_name_the_key(tmp_path, data, expected) -> None:
    path = write_targets(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert any(expected in line and line.startswith(f"targets file '{path}': ") for line in err.value.problems), \
        err.value.problems


def test_every_problem_gets_its_own_line_and_unknown_contrasts_are_named(tmp_path) -> None:
    bad = write_targets(tmp_path, {"axes": {"MET": {"receptors": ["MET"], "extra": 1}},
                                   "drugs": {"crizotinib": {}}})
    with pytest.raises(InputError) as err:
        load_targets(bad)
    assert len(err.value.problems) == 2
    good = write_targets(tmp_path, {"axes": {"MET": {"receptors": ["MET"]}},
                                    "drugs": {"crizotinib": {"targets": ["MET"]}},
                                    "contrasts": {"metastasis": "met_vs_normal", "primary": "prim_vs_normal"}},
                         "good.yaml")
    with pytest.raises(InputError, match=r"contrasts.metastasis: 'met_vs_normal' is not a contrast"):
        load_targets(good, contrasts=["prim_vs_normal", "other"])

"""The default run's documented conclusions (README.md, resources/demo/README.md), read from its results/.

`.ci/run` runs the default analysis before the tests, so in CI these check the demo run of the commit under test:
the conclusions the demo exists to show must not change unnoticed (from 85a26a5 to c748587 the make-up's refits
took EGFR's flag in the metastases while the docs still said the demo's answer was unchanged). On a developer
machine without a default run they skip (they fail in CI); run ``snakemake --cores 2`` first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, require
from target_rationale.paths import result

RESULTS = REPO / "results"
METASTASIS, DIRECT = "liver_met_vs_normal", "liver_met_vs_primary"


def read(name: str, **wildcards: str) -> pd.DataFrame:
    """A table of the default run; skipped (failed in CI) when missing, skipped when older than the workflow's code
    (it would check another commit's answer; in CI the run is always newer)."""
    path = Path(result(name, root=RESULTS, **wildcards))
    require(path.is_file(), f"the default run's {path.relative_to(REPO)} is missing (run `snakemake --cores 2`)")
    code = max(p.stat().st_mtime for p in (REPO / "workflow").rglob("*.py"))
    if path.stat().st_mtime < code:
        pytest.skip(f"{path.relative_to(REPO)} is older than the workflow's code: rerun `snakemake --cores 2`")
    return pd.read_csv(path, sep="\t")


def test_axes_egfr_unique_to_metastases_the_rest_shared() -> None:
    axes = read("axes_table").set_index(["contrast", "axis"])
    assert axes.loc[(METASTASIS, "EGFR"), ["flag", "unique"]].tolist() == ["up", "unique"]
    assert axes.loc[(DIRECT, "EGFR"), "flag"] == "up"
    for axis in ("VEGFR", "FGFR", "CSF1R"):
        assert axes.loc[(METASTASIS, axis), "flag"] == "up", axis
        assert str(axes.loc[(METASTASIS, axis), "unique"]).startswith("shared"), axis


def test_the_trials_pair_ranks_first() -> None:
    ranked = read("rationale_table")
    first = ranked[ranked["rank"] == 1]
    assert first["therapy"].tolist() == ["surufatinib + gefitinib"]
    assert set(first["covers"].iloc[0].split(";")) == {"EGFR", "VEGFR", "FGFR", "CSF1R"}


def test_egfr_terms_unique_and_egfr_active_in_the_planted_metastases() -> None:
    classes = read("comparison_table", collection="GO_BP").set_index("term_id")["class"]
    assert classes.loc["GO:0007173"] == classes.loc["GO:0038127"] == f"unique:{METASTASIS}"
    prevalence = read("patients_prevalence").set_index(["axis", "site"])
    assert prevalence.loc[("EGFR", "liver_metastasis"), ["n_active", "n"]].tolist() == [11, 12]
    assert prevalence.loc[("EGFR", "primary"), "n_active"] == 0

"""The config schema is the one source of defaults: settings objects take theirs from it, and config/README.md
documents every key with the schema's default."""

from __future__ import annotations

import re

import pytest
from conftest import REPO
from target_rationale.core.schema import config_problems, defaults, load_schema, pick, with_defaults
from target_rationale.diffexp.settings import FitSettings, WaldSettings
from target_rationale.enrichment.settings import EnrichSettings

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
    if key == "contrasts" or default is None and rows[key] in ("", "all contrasts"):
        return  # the three default contrasts are spelled out below the table; null as the README words it
    cell = rows[key].replace("`", "")
    assert any(r in cell for r in renderings(default)), f"`{key}`: README says {rows[key]!r}, schema {default!r}"


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


def test_config_problems_name_each_key() -> None:
    problems = config_problems({"design": "~ site", "contrasts": [], "diffexp": {"alpah": 1, "min_count": -1}},
                               load_schema("config"))
    assert any("unknown key(s) 'alpah' at diffexp" in p for p in problems)
    assert any("diffexp.min_count" in p and "minimum" in p for p in problems)

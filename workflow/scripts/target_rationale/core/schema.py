"""The workflow's JSON schemas (``workflow/schemas/``) as the one source of defaults.

Settings objects (``DiffexpSettings``, ``EnrichmentSettings``, the targets' flag rule, ...) declare their fields
without defaults and fill what a config leaves out from the schema, so a default is written once, next to its
description, and ``config/README.md`` is checked against the same file (``tests/core/test_schema.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

#: ``workflow/schemas/``.
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"


@functools.cache
def load_schema(name: str) -> dict:
    """The schema ``workflow/schemas/<name>.schema.yaml`` (``config``, ``samples``, ``targets``), parsed once."""
    return yaml.safe_load((SCHEMA_DIR / f"{name}.schema.yaml").read_text(encoding="utf-8"))


def subschema(schema: Mapping, *keys: str) -> Mapping:
    """The schema of the object at ``keys`` (``subschema(s, "diffexp")`` is the ``diffexp:`` section's)."""
    for key in keys:
        schema = schema["properties"][key]
    return schema


def defaults(schema_name: str, *keys: str) -> dict[str, Any]:
    """The schema's default of every key of the object at ``keys`` that declares one.

    >>> defaults("config", "diffexp")["alpha"]
    0.05
    """
    properties = subschema(load_schema(schema_name), *keys).get("properties", {})
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


def with_defaults(section: Mapping | None, schema_name: str, *keys: str) -> dict[str, Any]:
    """``section`` (a config section, possibly partial or None) completed with the schema's defaults."""
    return {**defaults(schema_name, *keys), **dict(section or {})}


def fields_of(settings_class: type) -> tuple[str, ...]:
    """The config keys a settings dataclass reads (its field names)."""
    return tuple(settings_class.__dataclass_fields__)


def pick(section: Mapping, settings_class: type) -> dict[str, Any]:
    """The part of a config ``section`` that ``settings_class`` reads: what a rule hands its job as a param, so
    that changing any other key of the section does not rerun the job."""
    return {key: section[key] for key in fields_of(settings_class) if key in section}


def config_problems(config: dict, schema: dict) -> list[str]:
    """One line per way ``config`` breaks the JSON ``schema`` (unknown keys, wrong types, bad values).

    ``snakemake.utils.validate`` stops at the first error and prints the whole schema; this names each key.
    """
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        key = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                      for i, p in enumerate(error.absolute_path)) or "(top level)"
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            problems.append(f"config: unknown key(s) {', '.join(repr(u) for u in unknown)} at {key}; allowed "
                            f"keys are {', '.join(allowed)} (see config/README.md)")
        elif error.validator == "oneOf":
            forms = "; ".join(_describe_branch(branch) for branch in error.validator_value)
            problems.append(f"config: {key} = {error.instance!r} fits none of the allowed forms ({forms}); see "
                            "config/README.md")
        elif error.validator == "enum":
            problems.append(f"config: {key} = {error.instance!r} is not allowed; use one of "
                            f"{', '.join(map(str, error.validator_value))}")
        else:
            problems.append(f"config: {key}: {error.message}")
    return problems


def _describe_branch(schema: dict) -> str:
    """``{source: kegg_rest, organism?, base_url?}``: one allowed form of a ``oneOf`` config entry."""
    if schema.get("type") == "null":
        return "null"
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    parts = []
    for name, spec in properties.items():
        if "const" in spec:
            parts.append(f"{name}: {spec['const']}")
        else:
            parts.append(name if name in required else f"{name}?")
    return "{" + ", ".join(parts) + "}"

"""Every rule script imports names that exist (the scripts themselves only run inside Snakemake jobs)."""

from __future__ import annotations

import ast
import importlib

import pytest
from conftest import REPO

SCRIPTS = sorted((REPO / "workflow" / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_rule_script_imports_resolve(script) -> None:
    tree = ast.parse(script.read_text())
    found = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{script.name}: {node.module} has no {alias.name}"
                found += 1
        elif isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
                found += 1
    assert found and "snakemake" in script.read_text()  # a rule script reads the snakemake object

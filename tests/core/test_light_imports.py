"""The modules the Snakefile imports to plan a run stay light: no requests, pandas, numpy, anndata or matplotlib."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

LIGHT_MODULES = ("target_rationale.genesets.sources.registry", "target_rationale.cohort.import_plan")
HEAVY = ("requests", "pandas", "numpy", "anndata", "matplotlib", "gseapy")


def test_planning_modules_import_no_heavy_package() -> None:
    code = ("import sys; sys.path.insert(0, 'workflow/scripts'); "
            + "; ".join(f"import {module}" for module in LIGHT_MODULES)
            + f"; print(','.join(name for name in {HEAVY!r} if name in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"imported by the planning modules: {run.stdout.strip()}"

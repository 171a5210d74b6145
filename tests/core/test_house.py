"""The house rules of the workflow package, checked by walking its source: no import cycle, no module over 600
lines but the two engines, computing modules never import plotting modules, imports at the top of files, and
the workflow never reads tests/ nor imports the simulator."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

SCRIPTS = REPO / "workflow" / "scripts"
PACKAGE = SCRIPTS / "target_rationale"
#: Modules allowed to be long: one algorithm each.
ENGINES = {"target_rationale.engines.gsea", "target_rationale.engines.nbinom"}
#: Imports allowed inside functions, with the reason.
LAZY = {
    "matplotlib.pyplot": "only to release figures that pyplot may be tracking (core.plotting.save_figure)",
    "gseapy.msigdb": "imports matplotlib; only an MSigDB download needs it (genesets.sources.msigdb)",
    "gseapy": "imports matplotlib and scipy's clustering: only the jobs that test enrichment need it, not the plot "
              "jobs that read rankings (enrichment.analysis), nor anything but an MSigDB download "
              "(genesets.sources.msigdb)",
    "target_rationale.engines.gsea": "numba and its compiled kernels: only the jobs that rank (enrichment.analysis)",
    "skmisc.loess": "R's loess, only for a fit with 1-3 residual degrees of freedom (engines.dispersion_prior)",
    "scipy.stats": "about a second of a job's start (benchmarks/job_imports.py): only the functions that need a "
                   "distribution scipy.special does not give import it (core.stats.normal_tolerance_factor: the "
                   "patients stage; targets.score_stats.score_contrast: the targets stage), so the report and the "
                   "enrichment-plot, term-test, purify and axis-test jobs do not",
    "scipy.optimize": "only the purify job fits the host's make-up (admixture.host_levels); the report and the "
                      "targets stage import that module without fitting",
    "statsmodels.nonparametric.smoothers_lowess": "R's lowess: only the Wald-test jobs filter "
                                                  "(engines.independent_filter); the fits and the QC that import "
                                                  "the engine do not load statsmodels",
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(SCRIPTS).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's own modules that ``path`` imports."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out |= {n for n in names if n in known}
    return out


def imports_matplotlib(path: Path) -> bool:
    return bool(re.search(r"^\s*(import|from) matplotlib", path.read_text(), re.M))


def test_no_import_cycle() -> None:
    known = modules()
    graph = {name: imported(path, known) - {name} for name, path in known.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt])
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
    assert len(graph) > 30  # the walk saw the package


def test_module_size() -> None:
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > 600 and name not in ENGINES}
    assert not long, f"modules over 600 lines: {long}"


def test_computing_modules_do_not_import_plotting_modules() -> None:
    known = modules()
    plotting = {name for name, path in known.items() if imports_matplotlib(path)}
    assert {"target_rationale.core.plotting", "target_rationale.diffexp.plots"} <= plotting
    offenders = {name: sorted(imported(path, known) & plotting) for name, path in known.items()
                 if name not in plotting and imported(path, known) & plotting}
    assert not offenders, f"computing modules importing plotting modules: {offenders}"


def test_imports_at_the_top_of_files() -> None:
    late = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        module = inner.module if isinstance(inner, ast.ImportFrom) else inner.names[0].name
                        if module not in LAZY:
                            late.append(f"{name}.{node.name}: {module}")
    assert not late, f"imports inside functions: {late}"


def test_workflow_reads_neither_tests_nor_the_simulator() -> None:
    files = [*REPO.joinpath("workflow").rglob("*.py"), *REPO.joinpath("workflow").rglob("*.smk"), REPO / "Snakefile"]
    assert len(files) > 40
    for path in files:
        text = path.read_text()
        assert not re.search(r"""["'](\.\./)?tests/""", text), f"{path} reads tests/"
        assert not re.search(r"^\s*(from|import) simulate\b", text, re.M), f"{path} imports the simulator"

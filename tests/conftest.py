"""Shared fixtures: a small valid cohort written to a temporary folder, and a way to run the workflow on it."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType

import forked_snakemake
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

#: In CI (`CI=true`, as .ci/run sets it) a test whose system packages are missing fails instead of skipping, so
#: CI cannot pass by skipping the SLURM or browser test.
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, reason: str) -> None:
    """Skip the calling test when ``available`` is false, or fail it in CI."""
    if not available:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def load_script(script: Path) -> ModuleType:
    """A script of the repository (e.g. ``resources/build_host_reference.py``) imported as a module."""
    spec = importlib.util.spec_from_file_location(script.stem, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
DATA_FETCH = REPO / "tests" / "data" / "fetch"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

#: Real Ensembl gene ids (EGFR, KDR, FLT1, FLT4, FGFR1, CSF1R, ALB, GAPDH, ACTB, TP53) then filler ids.
KNOWN_IDS = ["ENSG00000146648", "ENSG00000128052", "ENSG00000102755", "ENSG00000037280", "ENSG00000077782",
             "ENSG00000182578", "ENSG00000163631", "ENSG00000111640", "ENSG00000075624", "ENSG00000141510"]


@dataclass
class Cohort:
    """A cohort written to ``folder``: counts, sample sheet and config, editable by a test."""

    folder: Path
    counts: pd.DataFrame
    sheet: pd.DataFrame
    config: dict

    @property
    def counts_path(self) -> Path:
        return self.folder / "counts.tsv"

    @property
    def samples_path(self) -> Path:
        return self.folder / "samples.tsv"

    @property
    def config_path(self) -> Path:
        return self.folder / "config.yaml"

    def write(self) -> "Cohort":
        self.counts.to_csv(self.counts_path, sep="\t")
        self.sheet.to_csv(self.samples_path, sep="\t", index=False)
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        return self

    def checksums(self) -> dict[str, str]:
        return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(self.folder.glob("*"))
                if p.is_file()}


def make_cohort(folder: Path, n_genes: int = 60, seed: int = 7) -> Cohort:
    """A valid 12-sample cohort: patients P1-P4 each with normal pancreas, primary and liver metastasis."""
    rng = np.random.default_rng(seed)
    ids = KNOWN_IDS + [f"ENSG{900000 + i:011d}" for i in range(n_genes - len(KNOWN_IDS))]
    samples = [f"P{p}_{s}" for p in range(1, 5) for s in ("normal", "primary", "liver_met")]
    site = {"normal": "normal_pancreas", "primary": "primary", "liver_met": "liver_metastasis"}
    counts = pd.DataFrame(rng.negative_binomial(5, 0.02, (n_genes, len(samples))),
                          index=pd.Index(ids, name="gene_id"), columns=samples)
    sheet = pd.DataFrame({"sample": samples,
                          "patient": [s.split("_")[0] for s in samples],
                          "site": [site[s.split("_", 1)[1]] for s in samples],
                          "batch": ["b1" if s[:2] in ("P1", "P2") else "b2" for s in samples]})
    config = {"counts": "counts.tsv", "samples": "samples.tsv", "gene_id_type": "auto",
              "design": "~ patient + site",
              "contrasts": [{"name": "primary_vs_normal", "variable": "site", "target": "primary",
                             "reference": "normal_pancreas"},
                            {"name": "liver_met_vs_normal", "variable": "site", "target": "liver_metastasis",
                             "reference": "normal_pancreas"},
                            {"name": "liver_met_vs_primary", "variable": "site", "target": "liver_metastasis",
                             "reference": "primary"}]}
    folder.mkdir(parents=True, exist_ok=True)
    return Cohort(folder=folder, counts=counts, sheet=sheet, config=config)


@pytest.fixture
def cohort(tmp_path: Path) -> Cohort:
    """A valid small cohort in a fresh temporary folder (not yet written: edit, then call ``.write()``)."""
    return make_cohort(tmp_path / "cohort")


OFFLINE = REPO / "tests" / "offline"


def run_workflow(workdir: Path, configfile: Path, *args: str, timeout: int = 600, offline: bool = True,
                 fresh: bool = False) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with ``workdir`` as working directory; return the finished process.

    With ``offline`` (the default) every Python process of the run, jobs included, has network connections
    blocked (``tests/offline/sitecustomize.py``), so a test fails if the workflow reaches for the network.
    The run is forked from a server that has imported Snakemake (``forked_snakemake``; about 3 s less per run);
    ``fresh`` starts a new interpreter instead, as a user's command line does.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if offline:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE), env.get("PYTHONPATH")]))
    arguments = ["-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile", str(configfile),
                 *args]
    if not fresh:
        return forked_snakemake.run(arguments, workdir, env, timeout)
    return subprocess.run([*SNAKEMAKE, *arguments], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=workdir)


def input_errors(result: subprocess.CompletedProcess) -> list[str]:
    """The ``Input error: ...`` lines a run printed (one per problem found before any job)."""
    return [line for line in result.stderr.splitlines() if line.startswith("Input error: ")]


def stopped_before_any_job(cohort: "Cohort") -> list[str]:
    """Write ``cohort``, dry-run the workflow on it and check the run stopped before any job, with no
    ``results/`` and every file of the cohort's folder unchanged; return its ``Input error: ...`` lines (at
    least one)."""
    cohort.write()
    before = cohort.checksums()
    result = run_workflow(cohort.folder, cohort.config_path, "-n")
    assert result.returncode != 0, result.stderr[-3000:]
    assert not (cohort.folder / "results").exists() and cohort.checksums() == before
    errors = input_errors(result)
    assert errors, result.stderr[-3000:]
    return errors


class LocalServer:
    """A static file server on 127.0.0.1 serving ``directory`` (default ``tests/data/fetch``).

    ``responses[path] = (status, body)`` overrides what one path returns; a path in ``truncated`` is served with
    its full Content-Length but only half of its bytes (a dropped connection). ``url`` is the server's root
    followed by ``url_path``.
    """

    def __init__(self, directory: Path = DATA_FETCH, url_path: str = "") -> None:
        self.directory = directory
        self.responses: dict[str, tuple[int, bytes]] = {}
        self.truncated: set[str] = set()
        self.requested: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requested.append(self.path)
                if self.path in server.responses or self.path in server.truncated:
                    if self.path in server.responses:
                        status, body = server.responses[self.path]
                        sent = body
                    else:
                        status, body = 200, (directory / self.path.lstrip("/")).read_bytes()
                        sent = body[: len(body) // 2]
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(sent)
                    self.close_connection = True
                    return
                super().do_GET()

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{url_path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def sha256(self, path: str) -> str:
        return hashlib.sha256((self.directory / path).read_bytes()).hexdigest()


@contextlib.contextmanager
def serving(local: LocalServer) -> Iterator[LocalServer]:
    """Run ``local`` for the duration of the block."""
    local.thread.start()
    try:
        yield local
    finally:
        local.httpd.shutdown()
        local.httpd.server_close()
        local.thread.join(5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serving(LocalServer()) as local:
        yield local


DEFAULT_CONTRASTS = [
    {"name": "primary_vs_normal", "variable": "site", "target": "primary", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_normal", "variable": "site", "target": "liver_metastasis", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_primary", "variable": "site", "target": "liver_metastasis", "reference": "primary"},
]


def load_cohort(folder: Path):
    """The cohort AnnData of a shipped cohort folder, exactly as the workflow's `cohort` rule builds it."""
    from target_rationale.cohort.assemble import assemble_cohort
    from target_rationale.cohort.ids import map_to_symbols, read_gene_id_map
    from target_rationale.cohort.validation import validate_inputs

    inputs = validate_inputs(folder / "counts.tsv.gz", folder / "samples.tsv", "auto", "~ patient + site",
                             DEFAULT_CONTRASTS)
    genes = map_to_symbols(inputs.matrix.counts.index, inputs.id_type,
                           read_gene_id_map(REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"))
    return assemble_cohort(inputs.matrix.counts, inputs.sheet, genes, inputs.id_type)


def demo_admixture_settings() -> dict:
    """The default analysis' host-tissue settings: config/config.yaml's ``admixture:`` over the schema's
    defaults, and its ``seed``."""
    from target_rationale.core.schema import defaults

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return {**defaults("config", "admixture"), **config["admixture"], "seed": config["seed"]}


@pytest.fixture(scope="session")
def demo_adjusted(tmp_path_factory: pytest.TempPathFactory):
    """The demo cohort purified of host tissue as the default run's ``admixture`` and ``purify`` jobs make it
    (their table and h5ad written and read back as the next job reads them)."""
    import anndata as ad
    from target_rationale.admixture.adjust import write_adjusted_cohort
    from target_rationale.admixture.fractions import write_admixture
    from target_rationale.admixture.reference import load_host_reference
    from target_rationale.core.tsv import read_tsv

    settings = demo_admixture_settings()
    assert settings["hosts"] and settings["adjust"], "the default config runs the host-tissue stage"
    folder = tmp_path_factory.mktemp("demo_adjusted")
    reference_path = REPO / settings["reference"]
    reference = load_host_reference(reference_path, reference_path.parent / "MANIFEST.yaml")
    demo = load_cohort(REPO / "resources" / "demo")
    write_admixture(demo, settings["hosts"], settings["variable"], reference, settings["seed"],
                    folder / "admixture.tsv")
    write_adjusted_cohort(demo, read_tsv(folder / "admixture.tsv"), reference, str(folder / "adjusted.h5ad"))
    return ad.read_h5ad(folder / "adjusted.h5ad")


@pytest.fixture(scope="session")
def demo_de(demo_adjusted) -> dict[str, pd.DataFrame]:
    """DE tables of the demo cohort's three contrasts, adjusted for host tissue as the default run makes them.

    As the workflow's jobs with the default config's ``admixture:`` do: the fit on the purified cohort
    (:func:`demo_adjusted`), then per contrast the Wald test, ``host_columns`` (host-adjusted standard errors,
    ``host_share``, ``host_dominated`` at the config's threshold) and ``results_table``, as ``write_contrast``
    does. One unshrunk fit serves all three contrasts (the workflow fits one per reference level when shrinking);
    fitting the 28 x 19,398 demo takes about a minute, so the tests that need it share this one fit.
    """
    from target_rationale.cohort.design import parse_contrasts
    from target_rationale.cohort.signatures import read_liver_signature
    from target_rationale.diffexp.model import fit_model, host_columns, results_table, wald_test
    from target_rationale.diffexp.settings import FitSettings, WaldSettings

    fit_settings = FitSettings.from_config({"shrink": False})
    wald_settings = WaldSettings.from_config({"shrink": False})
    contrasts = parse_contrasts(DEFAULT_CONTRASTS, "~ patient + site")
    dds = fit_model(demo_adjusted, contrasts, fit_settings, n_cpus=2)
    liver = read_liver_signature(REPO / "resources" / "signatures" / "liver_hepatocyte.tsv")
    host_dominated = demo_admixture_settings()["host_dominated"]
    tables = {}
    for c in contrasts:
        tested = host_columns(wald_test(dds, c, wald_settings, n_cpus=2), c, demo_adjusted, True, host_dominated)
        tables[c.name] = results_table(tested, demo_adjusted.var, liver)
    return tables


@pytest.fixture(scope="session")
def demo_gsea(demo_de: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """GO BP GSEA tables (builtin engine, default settings) of the demo's two tumour-vs-normal contrasts."""
    from target_rationale.enrichment.analysis import gsea
    from target_rationale.enrichment.settings import EnrichSettings
    from target_rationale.genesets.gmt import read_gmt

    go = read_gmt(REPO / "resources" / "genesets" / "go_bp.gmt.gz")
    return {c: gsea(demo_de[c], go, EnrichSettings.from_config(), seed=42, threads=2)[0]
            for c in ("primary_vs_normal", "liver_met_vs_normal")}


@pytest.fixture(scope="session")
def demo_qc_adjusted(demo_adjusted):
    """The VST of the purified demo cohort, as rule ``qc_matrix_adjusted`` makes it (the term and axis tests'
    matrix)."""
    from target_rationale.cohort.signatures import read_liver_signature
    from target_rationale.diffexp.qc import qc_matrix

    liver = read_liver_signature(REPO / "resources" / "signatures" / "liver_hepatocyte.tsv")
    return qc_matrix(demo_adjusted, liver, seed=42)


TEST_CONFIG = REPO / "tests" / "config" / "config.yaml"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the whole workflow once on the tiny test cohort, in a fresh folder; return that folder.

    One run per test session, shared by every test that reads the workflow's outputs: treat it as read-only.
    """
    workdir = tmp_path_factory.mktemp("tiny_run")
    result = run_workflow(workdir, TEST_CONFIG, "--cores", "2", fresh=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


#: Session fixtures that run the workflow or fit the demo, by the worker group that shares them: under
#: pytest-xdist (``-n``, in pyproject.toml's addopts) every module with a test that uses one runs on the same
#: worker, so each is built once per session, not once per worker.
SHARED_FIXTURES = {"tiny_run": "tiny_run", "demo_adjusted": "demo"}


def module_of(item: pytest.Item) -> str:
    """The test's module (its node id up to the first ``::``)."""
    return item.nodeid.split("::")[0]


def worker_groups(items: list[pytest.Item]) -> dict[str, str]:
    """Per module, its pytest-xdist group: the shared session fixture that one of its tests uses
    (:data:`SHARED_FIXTURES`, directly or through a fixture that depends on it), else the module itself. A module
    stays whole, so its own fixtures are built once too."""
    groups: dict[str, str] = {}
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        shared = next((group for fixture, group in SHARED_FIXTURES.items() if fixture in names), None)
        if shared is not None:
            groups[module_of(item)] = shared
        else:
            groups.setdefault(module_of(item), module_of(item))
    return groups


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its pytest-xdist group (``--dist loadgroup``: a group runs on one worker), before
    xdist's own hook reads the marks, and on a worker move the groups that run Snakemake end to end (marker
    ``workflow``) or share a session fixture to the front, in collection order otherwise
    (``--no-loadscope-reorder``): the longest groups start first, so that the last minutes are not one worker
    finishing a whole run while the other waits."""
    groups = worker_groups(items)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[module_of(item)]))
    if not hasattr(config, "workerinput"):
        return
    slow = {groups[module_of(item)] for item in items
            if item.get_closest_marker("workflow") or groups[module_of(item)] in SHARED_FIXTURES.values()}
    items.sort(key=lambda item: groups[module_of(item)] not in slow)

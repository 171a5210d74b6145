# Loads and validates the config, the sample sheet and the count matrix before any job runs, and plans the jobs
# (fits, collections, output lists) through one light module, target_rationale.planning. Any problem stops the run
# here with one line per problem and nothing written.

import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

WORKFLOW_ROOT = Path(workflow.current_basedir).parent.parent
sys.path.insert(0, str(WORKFLOW_ROOT / "workflow" / "scripts"))

from target_rationale import paths
from target_rationale.planning import (
    COMMAND_VARIABLE,
    InputError,
    TARGETS_CHECK_VARIABLE,
    cache_key,
    cohort_config_problems,
    de_threads,
    config_problems,
    curve_terms,
    design_variables,
    direct_comparison,
    enrich_settings,
    filter_problems,
    fit_settings,
    gene_id_map_problems,
    highlight_genes,
    infer_direct,
    load_targets,
    online_collections,
    patient_layout,
    patient_sheet_problems,
    PatientSettings,
    pick,
    plan_fits,
    plan_import,
    plan_admixture,
    plan_inputs,
    release_memory,
    resolve_path,
    result,
    TARGET_ROLE_KEYS,
    target_symbol_problems,
    wald_settings,
    validate_inputs,
)
from target_rationale.core.schema import config_file_problem, load_schema


def stop(problems):
    """Print one line per problem and end the run before any job (no outputs are written)."""
    for problem in problems:
        print(f"Input error: {problem}", file=sys.stderr)
    sys.exit(1)


def resolve(path):
    """A config path: as given if it exists from the working directory, else inside the workflow's folder."""
    return resolve_path(path, WORKFLOW_ROOT)


# The default analysis. A --configfile given on the command line replaces it (keys it leaves out take the
# schema's defaults) instead of being merged into it, so a cohort's config says everything about its run. Its YAML
# is read here first, so that a syntax error names its line (Snakemake's own message does not).
if not workflow.config_settings.configfiles:
    if _problem := config_file_problem("config/config.yaml"):
        stop([_problem])

    configfile: "config/config.yaml"


def figure(name, stem, caption, category, subcategory=None):
    """The outputs of one figure, declared once: ``{name: PNG (in the report), name_svg: SVG}``."""
    png = report(f"{stem}.png", caption=f"../report/{caption}.rst", category=category, subcategory=subcategory)
    return {name: png, f"{name}_svg": f"{stem}.svg"}


#: Whether the user's config sets the host tissues (else the defaults apply only where the sheet has their levels).
ADMIXTURE_CONFIGURED = isinstance(config.get("admixture"), dict) and bool(
    {"hosts", "variable"} & set(config["admixture"]))
_problems = config_problems(config, load_schema("config")) + cohort_config_problems(config)
if _problems:
    stop(_problems)
validate(config, schema="../schemas/config.schema.yaml")  # fills in the defaults

# ---- the cohort: the user's counts + sample sheet, or files that workflow/rules/import.smk imports ---------------

COHORT_IMPORT = None  # target_rationale.cohort.import_plan.ImportPlan of `cohort:` (GEO series or local folder)
if config["cohort"]:
    try:
        COHORT_IMPORT = plan_import(config["cohort"], resolve)
    except InputError as _error:
        stop(_error.problems)
    COUNTS, SAMPLES = COHORT_IMPORT.counts, COHORT_IMPORT.samples
else:
    COUNTS = resolve(config["counts"])
    SAMPLES = resolve(config["samples"])
GENE_ID_MAP = resolve(config["gene_id_map"])

_problems = [
    f"config: genesets.{name}.gmt: file '{spec['gmt']}' does not exist; give the path of a GMT file (plain or "
    ".gz), or an online source such as {source: kegg_rest}"
    for name, spec in config["genesets"].items()
    if "gmt" in spec and not Path(resolve(spec["gmt"])).is_file()
] + gene_id_map_problems(GENE_ID_MAP)
_VALIDATED = None
try:
    if COHORT_IMPORT is None:
        INPUTS = _VALIDATED = validate_inputs(COUNTS, SAMPLES, config["gene_id_type"], config["design"],
                                              config["contrasts"], config["min_library_size"])
    else:
        # Imported files: the jobs are planned from the config alone, so that they stay the same before and after
        # the import ran. The `cohort` job validates the imported files (same messages) before any computation;
        # when an up-to-date import already exists, they are validated here too, before any job.
        INPUTS = plan_inputs(config["gene_id_type"], config["design"], config["contrasts"])
        if COHORT_IMPORT.is_current:
            _VALIDATED = validate_inputs(COUNTS, SAMPLES, config["gene_id_type"], config["design"],
                                         config["contrasts"], config["min_library_size"])
except InputError as _error:
    _problems += _error.problems
if _problems:
    stop(_problems)
if _VALIDATED is not None:
    validate(_VALIDATED.sheet.reset_index(), schema="../schemas/samples.schema.yaml")

CONTRASTS = {contrast.name: contrast for contrast in INPUTS.contrasts}

# ---- host tissue ------------------------------------------------------------------------------------------------

HOST_REFERENCE = resolve(config["admixture"]["reference"])
HOST_REFERENCE_MANIFEST = str(Path(HOST_REFERENCE).parent / "MANIFEST.yaml")
ADMIXTURE, _problems = plan_admixture(config["admixture"], _VALIDATED.sheet if _VALIDATED is not None else None,
                                      HOST_REFERENCE, SAMPLES, ADMIXTURE_CONFIGURED)
if _problems:
    stop(_problems)
if config["diffexp"]["exclude_liver_genes"]:
    print("Deprecated: diffexp.exclude_liver_genes (a fixed 27-gene hepatocyte list) still leaves those genes out of "
          "enrichment, but host tissue is now measured and adjusted for by the admixture: section (see "
          "config/README.md); set admixture.hosts and drop this key", file=sys.stderr)
#: Site effects at zero admixture: the fits read the purified cohort, the unadjusted tables go to unadjusted/.
ADJUST = ADMIXTURE and config["admixture"]["adjust"]
LIVER_SIGNATURE = resolve(config["liver_signature"])

# ---- differential expression: which model fit each contrast uses --------------------------------------------

DESIGN_VARIABLES = design_variables(config["design"])
FITS = plan_fits(INPUTS.contrasts, shrink=config["diffexp"]["shrink"])
# Genes each fit keeps after its pre-filter (an import that has not run yet has no files to check here).
if _VALIDATED is not None:
    _problems = filter_problems(_VALIDATED.matrix.counts, _VALIDATED.sheet, FITS, config["diffexp"]["min_count"],
                                config["diffexp"]["min_samples"], COUNTS)
    if _problems:
        stop(_problems)
#: Threads of the fit and Wald-test jobs, from the size of the count matrix.
DE_THREADS = de_threads(_VALIDATED.matrix.counts.shape if _VALIDATED is not None else None)
#: The counts' gene ids (a target symbol must be a symbol they map to, or of the gene id map), when known here.
COUNT_IDS = list(_VALIDATED.matrix.counts.index) if _VALIDATED is not None else None
if _VALIDATED is not None:
    # The counts are checked; the jobs read them from file: hand their memory back before any job runs.
    INPUTS = _VALIDATED = _VALIDATED.without_counts()
    release_memory()
FIT_OF = {contrast.name: fit for fit, contrasts in FITS.items() for contrast in contrasts}

# ---- target axes ------------------------------------------------------------------------------------------------

TARGETS_FILE = resolve(config["targets"]) if config["targets"] else None
TARGETS = None
os.environ.pop(TARGETS_CHECK_VARIABLE, None)  # set below only when the parse cannot check the symbols itself
if TARGETS_FILE:
    try:
        TARGETS = load_targets(TARGETS_FILE, contrasts=CONTRASTS.values(), roles=config["target_contrasts"])
    except InputError as _error:
        stop(_error.problems)
    if COUNT_IDS is not None:
        _problems = target_symbol_problems(TARGETS, TARGETS_FILE, GENE_ID_MAP, COUNT_IDS, _VALIDATED.id_type)
        if _problems:
            stop(_problems)
    else:  # an import that has not run yet: its ids exist only then, and the cohort job checks them (rule cohort)
        os.environ[TARGETS_CHECK_VARIABLE] = TARGETS_FILE
    TARGETS, _note = infer_direct(TARGETS, CONTRASTS.values())
    if _note:
        print(f"Deprecated: {_note}", file=sys.stderr)
# The contrasts by role, as resolved here: the targets job reads them as a param.
TARGET_ROLES = {role: getattr(TARGETS, role) for role in TARGET_ROLE_KEYS} if TARGETS else {}
# The sites the patient stage reads (tumour levels, normal tissue), from the same roles, and its sheet columns.
PATIENT_LAYOUT = patient_layout(TARGETS, CONTRASTS.values()) if TARGETS else None
if TARGETS and _VALIDATED is not None:
    _problems = patient_sheet_problems(_VALIDATED.sheet, config["patients"], SAMPLES)
    if _problems:
        stop(_problems)

# ---- enrichment: contrasts whose significance classifies terms as shared / unique -----------------------------

COMPARED = config["enrichment"]["comparison"] or list(CONTRASTS)
# The direct contrast of the two compared ones (e.g. liver_met_vs_primary for primary_vs_normal and
# liver_met_vs_normal): it confirms "unique" and separates "shared" from "shared, stronger in one".
DIRECT_COMPARISON = direct_comparison(list(CONTRASTS.values()), COMPARED)
_unknown = [name for name in COMPARED if name not in CONTRASTS]
if _unknown:
    stop([f"config: enrichment.comparison names contrast(s) {', '.join(map(repr, _unknown))} that are not in "
          f"`contrasts` ({', '.join(CONTRASTS)}); list contrast names"])

# ---- gene-set collections ---------------------------------------------------------------------------------

GENESET_CACHE = config["geneset_cache"].rstrip("/")
COLLECTIONS = config["genesets"]
ONLINE = online_collections(COLLECTIONS)


def collection_source(name):
    """The GMT collection ``name`` is read from: the configured file, or the cached download."""
    spec = COLLECTIONS[name]
    if "gmt" in spec:
        return resolve(spec["gmt"])
    return f"{GENESET_CACHE}/{cache_key(spec)}/genesets.gmt"


def per_collection(paths_of_one):
    """One path per configured collection (in config order), the ``{contrast}`` wildcard kept."""
    return expand(paths_of_one, collection=COLLECTIONS, allow_missing=True)


def enrichment_tables(table):
    """The path of an enrichment table (``ora_up``, ``ora_down``, ``gsea`` of rule ``enrich``; ``camera`` of rule
    ``term_tests``), the ``{contrast}`` and ``{collection}`` wildcards kept."""
    return result("enrichment_table", table=table)


def collection_gmt(wildcards):
    """Input function: the source GMT of the ``{collection}`` wildcard."""
    return collection_source(wildcards.collection)


# ---- provenance and report --------------------------------------------------------------------------------

# The command line of this run, handed to the jobs (which Snakemake starts as processes of their own) through
# the environment; the main process sets it first. Not a param: a new command must not rerun anything.
_argv = ["python -m snakemake" if sys.argv[0].endswith("__main__.py") else Path(sys.argv[0]).name, *sys.argv[1:]]
os.environ.setdefault(COMMAND_VARIABLE, " ".join([_argv[0], shlex.join(_argv[1:])]).strip())

PROVENANCE = {name.split(".")[0]: result("provenance", name=name) for name in paths.PROVENANCE_FILES}


def de_cohort():
    """The cohort the fits read: purified of host reads when admixture.adjust is on, else the cohort."""
    return rules.purify.output.h5ad if ADJUST else rules.cohort.output.h5ad


def provenance_inputs():
    """Role -> path of every input whose checksum the provenance records."""
    inputs = {"counts": COUNTS, "samples": SAMPLES, "gene_id_map": GENE_ID_MAP, "liver_signature": LIVER_SIGNATURE}
    if TARGETS_FILE:
        inputs["targets"] = TARGETS_FILE
    if ADMIXTURE:
        inputs["host_reference"] = HOST_REFERENCE
    if COHORT_IMPORT is not None:
        inputs["import"] = COHORT_IMPORT.record
    inputs.update({f"genesets:{name}": collection_source(name) for name in COLLECTIONS})
    return inputs


def final_outputs():
    """Every file the default run produces (the targets of `rule all`)."""
    return analysis_outputs() + list(rules.provenance.output) + list(rules.report.output)


def analysis_outputs():
    """The analysis' tables and plots (everything the report reads besides the provenance)."""
    return [
        *rules.cohort.output,
        *expand(rules.collection.output, collection=COLLECTIONS),
        *rules.qc_matrix.output,
        *expand(rules.contrast.output, contrast=CONTRASTS),
        *rules.qc_plots.output,
        *(list(rules.admixture.output) + list(rules.admixture_plot.output) if ADMIXTURE else []),
        *(expand(rules.contrast_unadjusted.output, contrast=CONTRASTS) if ADJUST else []),
        *(rules.purify.output if ADJUST else []),
        *expand(rules.dispersion_plot.output, fit=FITS),
        *expand(rules.contrast_plots.output, contrast=CONTRASTS),
        *expand(rules.enrich.output, contrast=CONTRASTS),
        *expand(rules.enrichment_plots.output, contrast=CONTRASTS),
        *expand(rules.compare_contrasts.output, collection=COLLECTIONS),
    ] + target_outputs()


def target_outputs():
    """The target-axis stage's files, unless `targets: null` turned the stage off."""
    if TARGETS is None:
        return []
    return [*rules.axis_scores.output, *rules.axis_tests.output, *rules.targets.output, *rules.target_plots.output,
            *rules.patients.output, *rules.patient_plots.output]


wildcard_constraints:
    contrast="|".join(re.escape(name) for name in CONTRASTS),
    fit="|".join(re.escape(name) for name in FITS),
    collection="|".join(re.escape(name) for name in COLLECTIONS),
    cached="|".join(re.escape(key) for key in ONLINE) or "no-online-collection",

# Loads and validates the config, the sample sheet and the count matrix before any job runs, and builds the
# lists of outputs. Any problem stops the run here with one line per problem and nothing written.

import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

WORKFLOW_ROOT = Path(workflow.current_basedir).parent.parent
sys.path.insert(0, str(WORKFLOW_ROOT / "workflow" / "scripts"))

from target_rationale.cohort import InputError
from target_rationale.validation import config_problems, validate_inputs


def stop(problems):
    """Print one line per problem and end the run before any job (no outputs are written)."""
    for problem in problems:
        print(f"Input error: {problem}", file=sys.stderr)
    sys.exit(1)


def resolve(path):
    """A config path: as given if it exists from the working directory, else inside the workflow's folder."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists() or not (WORKFLOW_ROOT / candidate).exists():
        return str(candidate)
    return str(WORKFLOW_ROOT / candidate)


with open(WORKFLOW_ROOT / "workflow" / "schemas" / "config.schema.yaml") as _handle:
    _problems = config_problems(config, yaml.safe_load(_handle))
if _problems:
    stop(_problems)
validate(config, schema="../schemas/config.schema.yaml")  # fills in the defaults

COUNTS = resolve(config["counts"])
SAMPLES = resolve(config["samples"])
GENE_ID_MAP = resolve(config["gene_id_map"])

try:
    INPUTS = validate_inputs(COUNTS, SAMPLES, config["gene_id_type"], config["design"], config["contrasts"])
except InputError as _error:
    stop(_error.problems)
validate(INPUTS.sheet.reset_index(), schema="../schemas/samples.schema.yaml")

CONTRASTS = {contrast.name: contrast for contrast in INPUTS.contrasts}


def final_outputs():
    """Every file the default run produces (the targets of `rule all`)."""
    return [
        "results/cohort/cohort.h5ad",
        "results/cohort/gene_ids.tsv",
        "results/cohort/samples.tsv",
    ]

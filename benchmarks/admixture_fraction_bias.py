"""Where the exocrine host fractions' error comes from: the simulated host's make-up or the estimator (not a test).

From the repository root::

    python benchmarks/admixture_fraction_bias.py --seeds 20 --patients 10

``admixture_fractions.py`` finds the primaries' exocrine fractions further from the truth (Pearson r 0.92, median
absolute error 0.046 over 5-50%) than the liver's (0.96, 0.021). This benchmark splits that error. Per seed it
simulates the ``admixture_null`` cohort with both hosts at 5-50% (as the fractions benchmark's ``range_0.05_0.5``
scenario) under three exocrine hosts, and estimates the fractions as the workflow's ``admixture`` job does:

* ``design``: the simulator's exocrine host (:data:`simulate.design.EXOCRINE_HOST`): 75% the pancreas tissue
  without its islet part, 10% HPA's ``exocrine_glandular_cells`` and 15% its ``ductal_cells`` (per-sample
  Dirichlet mix), every profile perturbed per gene (lognormal sd 0.5);
* ``tissue_only``: the same, but the host is the islet-free pancreas tissue alone (still perturbed per gene);
* ``tissue_only_unperturbed``: that host without the per-gene perturbation (``perturbation_sd`` 0).

Per variant: each seed's median log ratio of estimate to truth (the cohort's bias) and its spread, and pooled
over seeds Pearson r, median absolute error and the coverage of the 95% intervals, against the issue's targets.
Also, for each component of the exocrine host, the share of its reference reads on the exocrine anchors (the genes
the fraction is read from), and the bias the design's mean make-up implies for an anchor-based estimate:
``log(sum_k w_k A_k / A_tissue)``. Writes ``benchmarks/results/admixture_fraction_bias.json`` with the commit
measured.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from admixture_calls import mean  # noqa: E402
from admixture_fractions import one_seed, summary  # noqa: E402
from make_admixture_cohort import GENE_MAP, GO_BP, admixture_design  # noqa: E402
from measured_commit import seed_parser, write_result  # noqa: E402
from target_rationale.admixture.anchors import anchor_genes  # noqa: E402
from target_rationale.admixture.reference import HostReference  # noqa: E402
from target_rationale.genesets.gmt import read_gmt  # noqa: E402

from simulate import prepare_gene_table  # noqa: E402
from simulate.design import PANCREAS_EXOCRINE, CohortDesign, HostTissue  # noqa: E402
from simulate.host import exocrine_profile, map_reference, shipped_host_reference  # noqa: E402

RANGE = (0.05, 0.5)
VARIANTS = ("design", "tissue_only", "tissue_only_unperturbed")
TARGETS = {"pearson_r": ">= 0.95", "median_abs_error": "<= 0.03", "coverage": ">= 0.9"}


def variant_design(variant: str, n_patients: int) -> CohortDesign:
    """The admixture-only null at 5-50% host with the variant's exocrine host."""
    design = admixture_design("admixture_null", n_patients, liver_range=RANGE, exocrine_range=RANGE)
    host = design.host
    if variant != "design":
        tissue = HostTissue("exocrine_pancreas", ((PANCREAS_EXOCRINE, 1.0),), host.pancreas.concentration, RANGE)
        host = dataclasses.replace(host, pancreas=tissue)
    if variant == "tissue_only_unperturbed":
        host = dataclasses.replace(host, perturbation_sd=0.0)
    return dataclasses.replace(design, host=host)


def anchor_mass(reference: HostReference, genes: pd.DataFrame) -> dict:
    """Share of each exocrine host component's reads (on the simulator's gene universe, as the simulator maps the
    reference) that fall on the exocrine anchors, and the bias of an anchor-based estimate that the design's mean
    make-up implies (natural log, against the pancreas tissue profile the estimator reads)."""
    host = variant_design("design", 2).host
    levels, reference_id, _ = map_reference(genes, reference)
    on_anchor = reference_id.isin(set(anchor_genes(reference, "exocrine_pancreas"))).to_numpy()
    profiles = {p: levels[p].to_numpy() for p in ("pancreas", "exocrine_glandular_cells", "ductal_cells")}
    profiles[PANCREAS_EXOCRINE] = exocrine_profile(levels, genes["symbol"], host)
    mass = {p: float(np.nansum(v[on_anchor]) / np.nansum(v)) for p, v in profiles.items()}
    components = dict(host.pancreas.components)
    implied = sum(w * mass[p] for p, w in components.items()) / mass["pancreas"]
    return {"anchor_mass": mass, "design_components": components, "implied_log_bias": float(np.log(implied))}


def main() -> None:
    args = seed_parser(__doc__, "admixture_fraction_bias.json", 20).parse_args()
    genes = prepare_gene_table(pd.read_csv(GENE_MAP, sep="\t", dtype=str))
    sets = read_gmt(GO_BP)
    reference = shipped_host_reference()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    rows, pooled = [], {}
    for variant in VARIANTS:
        parts = []
        for seed in seeds:
            part = one_seed(seed, args.patients, genes, sets, reference,
                            design=variant_design(variant, args.patients))
            part = part.loc[part["host"] == "exocrine_pancreas"]
            log_ratio = np.log(part["fraction"].clip(lower=1e-6) / part["truth"])
            rows.append({"variant": variant, "seed": seed, "median_log_ratio": float(log_ratio.median()),
                         "sd_log_ratio": float(log_ratio.std()), **summary(part)})
            print(rows[-1], flush=True)
            parts.append(part)
        pooled[variant] = summary(pd.concat(parts))
    result = {"targets": TARGETS, "range": list(RANGE), **anchor_mass(reference, genes)}
    for variant in VARIANTS:
        mine = [r for r in rows if r["variant"] == variant]
        result[variant] = {"pooled": pooled[variant],
                           "median_log_ratio": mean([r["median_log_ratio"] for r in mine]),
                           "sd_log_ratio": mean([r["sd_log_ratio"] for r in mine])}
    write_result("benchmarks/admixture_fraction_bias.py", args, result, rows)


if __name__ == "__main__":
    main()

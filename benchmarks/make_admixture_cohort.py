"""Generate one simulated admixture cohort for the admixture benchmarks (not a test; not shipped data).

From the repository root::

    python benchmarks/make_admixture_cohort.py --design admixture_null --patients 10 --seed 1 --out /tmp/adm/null_1

writes into ``--out``:

* ``counts.tsv.gz``: genes x samples, Ensembl ids (every protein-coding gene of the shipped gene map);
* ``samples.tsv``: ``sample, patient, site, batch, simulated`` (``simulated: yes``);
* ``truth_genes.tsv``, ``truth_programmes.tsv``, ``truth_samples.tsv`` (host fraction and cell mix per sample),
  ``truth_host_genes.tsv.gz`` (per gene: reference mapping, perturbations, tumour and host levels, the host's
  mean share of counts, dispersion) and ``host_share.tsv.gz`` (genes x samples: the host's expected share of
  each count); columns as :class:`simulate.SimulatedCohort` documents them;
* ``config.yaml``: the workflow config (design ``~ patient + site``, the three default contrasts, GO BP / MF /
  CC, paths relative to ``--out``: run Snakemake with ``--directory <out>``);
* ``design.yaml``: design name, arguments, seed and the planted truth (the design function's docstring).

Designs (:mod:`simulate.admixture`): ``admixture_null`` (no tumour difference between primaries and metastases;
metastases carry 10-50% liver, primaries 0-20% exocrine pancreas, both from HPA v23 perturbed per gene) and
``admixture_planted`` (the same plus the EGFR, VEGFR and CSF1R axes up in the tumour part of metastases by
``--lfc`` log2). ``--liver-range LOW HIGH`` and ``--exocrine-range LOW HIGH`` replace the host fraction ranges
(``0 0 0 0``: the same cohort without admixture); given, they are recorded in ``design.yaml``'s arguments.
``--host-variant`` replaces the liver host (:data:`HOST_VARIANTS`; recorded likewise): ``design`` (the default),
``no_pan_stroma``, the liver without HPA's pan-tissue ``endothelial_cells`` and ``fibroblasts`` classes (4% each of
its RNA, per-sample Dirichlet), the other components rescaled, or ``fixed_mix``, every metastasis' liver at the mean
cell mix: benchmarks of what those classes and the per-sample mix cause.
The same arguments give byte-identical files (seeded generator, gzip with mtime 0).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):  # allow running without PYTHONPATH
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from make_cohort import benchmark_config  # noqa: E402
from target_rationale.genesets.gmt import read_gmt  # noqa: E402

from simulate import (  # noqa: E402
    ADMIXTURE_DESIGNS,
    CohortDesign,
    SimulatedCohort,
    prepare_gene_table,
    simulate_cohort,
)
from simulate.design import HostTissue  # noqa: E402

GENE_MAP = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"
DESIGN = "~ patient + site"
#: HPA's pan-tissue stromal classes in the liver host (left out by the ``no_pan_stroma`` variant).
PAN_STROMA = ("endothelial_cells", "fibroblasts")
#: Dirichlet concentration of the ``fixed_mix`` variant: every sample's cell mix at the mean (sd < 0.001).
FIXED_MIX_CONCENTRATION = 1e6


def _no_pan_stroma(liver: HostTissue) -> HostTissue:
    kept = [(p, w) for p, w in liver.components if p not in PAN_STROMA]
    total = sum(w for _, w in kept)
    return dataclasses.replace(liver, components=tuple((p, w / total) for p, w in kept))


def _fixed_mix(liver: HostTissue) -> HostTissue:
    return dataclasses.replace(liver, concentration=FIXED_MIX_CONCENTRATION)


#: The liver host of each variant, from the design's: ``design`` unchanged; ``no_pan_stroma`` without
#: :data:`PAN_STROMA` (their shares go to the other components, in proportion); ``fixed_mix`` with every sample's
#: cell mix at the mean (:data:`FIXED_MIX_CONCENTRATION`).
HOST_VARIANTS: dict[str, Callable[[HostTissue], HostTissue] | None] = {
    "design": None, "no_pan_stroma": _no_pan_stroma, "fixed_mix": _fixed_mix}


def with_host_variant(design: CohortDesign, variant: str) -> CohortDesign:
    """``design`` with its liver host replaced as :data:`HOST_VARIANTS` says (``design``: unchanged)."""
    if variant not in HOST_VARIANTS:
        raise ValueError(f"unknown host variant {variant!r}; choose from {', '.join(HOST_VARIANTS)}")
    change = HOST_VARIANTS[variant]
    if change is None:
        return design
    return dataclasses.replace(design, host=dataclasses.replace(design.host, liver=change(design.host.liver)))


def admixture_design(name: str, n_patients: int, n_normal: int | None = None, lfc: float = 1.0,
                     liver_range: tuple[float, float] | None = None,
                     exocrine_range: tuple[float, float] | None = None) -> CohortDesign:
    """The named design (``admixture_null`` or ``admixture_planted``) for ``n_patients`` patients.

    Parameters
    ----------
    name : str
        A key of :data:`simulate.ADMIXTURE_DESIGNS`.
    n_patients : int
        Patients, each with a primary and a liver metastasis.
    n_normal : int, optional
        Patients with normal pancreas too (the design's default otherwise).
    lfc : float
        Planted log2 effect of the metastasis axes (``admixture_planted`` only).
    liver_range, exocrine_range : tuple of float, optional
        Host fraction ranges of metastases and primaries (the design's defaults otherwise).

    Returns
    -------
    CohortDesign
        The design.
    """
    if name not in ADMIXTURE_DESIGNS:
        raise ValueError(f"unknown design {name!r}; choose from {', '.join(ADMIXTURE_DESIGNS)}")
    kwargs: dict[str, object] = {"n_normal": n_normal}
    if name == "admixture_planted":
        kwargs["lfc"] = lfc
    if liver_range is not None:
        kwargs["liver_range"] = tuple(liver_range)
    if exocrine_range is not None:
        kwargs["exocrine_range"] = tuple(exocrine_range)
    return ADMIXTURE_DESIGNS[name](n_patients, **kwargs)


def admixture_config() -> dict:
    """The workflow config of an admixture cohort: design ``~ patient + site``, the three default contrasts."""
    config = benchmark_config()
    config["design"] = DESIGN
    return config


def _write_gzip_tsv(table: pd.DataFrame, path: Path, index: bool) -> None:
    data = table.to_csv(sep="\t", index=index, lineterminator="\n").encode("utf-8")
    with open(path, "wb") as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                                                   compresslevel=6) as gz:
        gz.write(data)


def _write_tsv(table: pd.DataFrame, path: Path) -> None:
    path.write_text(table.to_csv(sep="\t", index=False, lineterminator="\n"), encoding="utf-8")


def write_admixture_cohort(cohort: SimulatedCohort, design: CohortDesign, seed: int, out: Path,
                           arguments: dict[str, object]) -> list[Path]:
    """Write a simulated admixture cohort, its truth and a workflow config into ``out``.

    Returns
    -------
    list of Path
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    assert cohort.truth_host_genes is not None and cohort.host_share is not None
    _write_gzip_tsv(cohort.counts, out / "counts.tsv.gz", index=True)
    _write_tsv(cohort.samples, out / "samples.tsv")
    _write_tsv(cohort.truth_genes, out / "truth_genes.tsv")
    _write_tsv(cohort.truth_programmes, out / "truth_programmes.tsv")
    _write_tsv(cohort.truth_samples, out / "truth_samples.tsv")
    _write_gzip_tsv(cohort.truth_host_genes, out / "truth_host_genes.tsv.gz", index=False)
    _write_gzip_tsv(cohort.host_share, out / "host_share.tsv.gz", index=True)
    (out / "config.yaml").write_text(yaml.safe_dump(admixture_config(), sort_keys=False), encoding="utf-8")
    functions = [ADMIXTURE_DESIGNS["admixture_null"]]
    if design.name != "admixture_null":
        functions.append(ADMIXTURE_DESIGNS[design.name])
    truth = [inspect.cleandoc(f.__doc__ or "").split("\n\nParameters\n")[0] for f in functions]
    meta = {"design": design.name, "arguments": arguments, "seed": seed, "simulated": "yes",
            "generator": "benchmarks/make_admixture_cohort.py (simulate.simulate_cohort)",
            "planted_truth": "\n\n".join(truth)}
    (out / "design.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, width=100), encoding="utf-8")
    return sorted(out.iterdir())


def make_admixture_cohort(design_name: str, n_patients: int, seed: int, out: str | Path,
                          n_normal: int | None = None, lfc: float = 1.0,
                          liver_range: tuple[float, float] | None = None,
                          exocrine_range: tuple[float, float] | None = None, host_variant: str = "design") -> Path:
    """Simulate the named admixture design and write it into ``out`` (see the module docstring).

    Parameters
    ----------
    design_name : str
        ``admixture_null`` or ``admixture_planted``.
    n_patients : int
        Patients (>= 2).
    seed : int
        Seed of the simulation.
    out : str or Path
        Output folder (created).
    n_normal : int, optional
        Patients with normal pancreas too.
    lfc : float
        Planted log2 effect of the metastasis axes (``admixture_planted``).
    liver_range, exocrine_range : tuple of float, optional
        Host fraction ranges of metastases and primaries (the design's defaults otherwise).
    host_variant : str
        A key of :data:`HOST_VARIANTS`.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    design = with_host_variant(admixture_design(design_name, n_patients, n_normal, lfc, liver_range,
                                                exocrine_range), host_variant)
    genes = prepare_gene_table(pd.read_csv(GENE_MAP, sep="\t", dtype=str))
    cohort = simulate_cohort(genes, read_gmt(GO_BP), design, seed)
    arguments: dict[str, object] = {"n_patients": n_patients, "n_normal": n_normal}
    if design_name == "admixture_planted":
        arguments["lfc"] = lfc
    for key, value in (("liver_range", liver_range), ("exocrine_range", exocrine_range)):
        if value is not None:
            arguments[key] = [float(v) for v in value]
    if host_variant != "design":
        arguments["host_variant"] = host_variant
    write_admixture_cohort(cohort, design, seed, out, arguments)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", choices=sorted(ADMIXTURE_DESIGNS), required=True)
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--normal", type=int, default=None, help="patients with normal pancreas too")
    parser.add_argument("--lfc", type=float, default=1.0, help="planted log2 effect (admixture_planted)")
    parser.add_argument("--liver-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=None,
                        help="liver fraction range of metastases (default the design's, 0.1 0.5)")
    parser.add_argument("--exocrine-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=None,
                        help="exocrine fraction range of primaries (default the design's, 0 0.2)")
    parser.add_argument("--host-variant", choices=sorted(HOST_VARIANTS), default="design",
                        help="the liver host's make-up (default the design's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    out = make_admixture_cohort(args.design, args.patients, args.seed, args.out, args.normal, args.lfc,
                                args.liver_range, args.exocrine_range, args.host_variant)
    counts = pd.read_csv(out / "samples.tsv", sep="\t")
    print(f"{args.design}: {len(counts)} samples of {args.patients} patients (seed {args.seed}) written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Rule `axis_tests`: the calibrated test of every target axis in every contrast (limma's fry on the VST)."""

import anndata as ad
from target_rationale.core.jobs import script_logging
from target_rationale.targets.axis_test import write_axis_tests

with script_logging(snakemake.log[0], outputs=snakemake.output):
    qc = ad.read_h5ad(snakemake.input.qc)
    adjusted = ad.read_h5ad(snakemake.input.adjusted) if snakemake.input.get("adjusted") else None
    write_axis_tests(
        qc=qc,
        sheet=qc.obs,
        contrasts=snakemake.params.contrasts,
        axes=snakemake.params.axes,
        out_table=snakemake.output.table,
        out_loo=snakemake.output.loo,
        out_bootstrap=snakemake.output.bootstrap,
        replicates=snakemake.params.replicates,
        seed=snakemake.params.seed,
        adjusted=adjusted,
        host_dominated=snakemake.params.host_dominated,
        make_up_error=snakemake.params.make_up_error,
    )

"""Rule `provenance`: resolved config, sample sheet, versions, seeds, input checksums, gene-set manifests."""

import os

from target_rationale.core.jobs import COMMAND_VARIABLE, script_logging
from target_rationale.report.provenance import write_provenance

with script_logging(snakemake.log[0], outputs=snakemake.output):
    roles = [name for name in snakemake.input.keys() if name != "manifests"]
    write_provenance(
        config=snakemake.params.config,
        inputs={role: snakemake.input[role] for role in roles},
        sample_sheet=snakemake.input.samples,
        manifests=dict(zip(snakemake.params.collections, snakemake.input.manifests)),
        command=os.environ.get(COMMAND_VARIABLE),
        out=dict(snakemake.output.items()),
    )

"""Rule `report`: the self-contained HTML report (results/report/report.html)."""

from pathlib import Path

from target_rationale.core.jobs import script_logging
from target_rationale.report.html import write_report

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_report(
        results=Path(snakemake.output.html).parent.parent,
        css_path=snakemake.input.css,
        script_path=snakemake.input.script,
        out=snakemake.output.html,
    )

"""The workflow under SLURM (one-node cluster on this machine) writes the same results as the local run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, require

#: The daemons tests/slurm/run.sh starts (Debian packages slurmctld, slurmd, slurm-client, munge; .ci/run installs
#: them). Without them the test is skipped (a developer machine need not run a cluster), and fails in CI.
SLURM_TOOLS = ("slurmctld", "slurmd", "sbatch", "squeue", "munged")
AVAILABLE = all(shutil.which(tool) or Path("/usr/sbin", tool).exists() for tool in SLURM_TOOLS)


@pytest.mark.workflow
def test_slurm_run_equals_the_local_run(tiny_run: Path) -> None:
    """tests/slurm/run.sh starts munged + slurmctld + slurmd, runs the test cohort with --executor slurm and
    profiles/slurm up to one contrast's GSEA table and the QC plots (its default targets), and compares every
    result file it wrote with the session's local run (tiny_run)."""
    require(AVAILABLE, "the SLURM test needs Debian's slurmctld, slurmd, slurm-client and munge (.ci/run installs "
                       "them) and root: see tests/slurm/README.md")
    result = subprocess.run(["bash", str(REPO / "tests" / "slurm" / "run.sh"), "--reference", str(tiny_run)],
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    submitted = re.search(r"SLURM run done: (\d+) SLURM jobs", result.stdout)
    assert submitted and int(submitted.group(1)) >= 5, result.stdout[-2000:]  # jobs really went through sbatch
    compared = re.search(r"compared (\d+) files byte for byte \((\d+) \.tsv tables\)", result.stdout)
    # The default targets (tests/slurm/run.sh): DE tables, GSEA / ORA / camera tables, admixture and QC tables.
    assert compared and int(compared.group(2)) >= 8, result.stdout[-2000:]
    assert result.stdout.rstrip().endswith("passed")

"""What a benchmark result records about the code it measured: the commit, and whether the tree was clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Where benchmark results are committed (each JSON names the commit it measured); scratch goes to benchmarks/out/.
RESULTS = REPO / "benchmarks" / "results"


def measured_commit() -> dict[str, object]:
    """``{"commit": <sha of HEAD>, "dirty": <uncommitted changes to tracked files>}`` of the repository."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}

"""Job logging: every rule script runs inside :func:`script_logging`, which sends the package's log lines to the
rule's log file and, on failure, ends the log with one ``FAILED:`` line and removes the job's partial outputs."""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path

LOG = logging.getLogger("target_rationale")

#: Environment variable through which the main Snakemake process hands its command line to the jobs (see
#: workflow/rules/common.smk): not a param, so running again with other flags reruns nothing.
COMMAND_VARIABLE = "TARGET_RATIONALE_COMMAND"


@contextlib.contextmanager
def script_logging(log_path: str | Path, outputs: Iterable[str | Path] = ()) -> Iterator[logging.Logger]:
    """Send the package's log lines to ``log_path``; on failure end the log with one line saying why.

    The traceback goes to the log before that last line, and the exception is re-raised so the job fails.
    On failure the job's ``outputs`` that exist are deleted as well: each is written atomically, but a job with
    several outputs may have finished some of them, and a failed job should leave none of its files behind
    (Snakemake deletes them too, but only when it is the one that sees the job fail).
    """
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    try:
        yield LOG
    except BaseException as err:
        LOG.error("traceback:\n%s", traceback.format_exc().rstrip())
        LOG.error("FAILED: %s: %s", type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        removed = [str(p) for p in map(Path, outputs) if p.is_file()]
        for path in removed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if removed:
            LOG.error("removed the outputs this job had written: %s", ", ".join(removed))
        raise
    finally:
        LOG.removeHandler(handler)
        handler.close()

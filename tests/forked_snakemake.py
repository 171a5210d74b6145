"""Snakemake's command line, run in a process forked from a server that imported it once.

A ``python -m snakemake`` process spends about 3 of its 4 seconds of a dry run importing Snakemake, its executor
plugins and the workflow's planning module (pandas, formulaic) before it reads the Snakefile, and the test suite
starts one for every bad-input, rerun and end-to-end test. Here each run is a child of a `multiprocessing` fork
server that has imported those modules (:data:`PRELOAD`) and never runs test code. The child starts as a fresh
command line would: its own session (so a timeout kills the run and its jobs), the given working directory and
environment (the test's ``PYTHONPATH`` and the offline guard included), the ``sys.path`` and ``sys.argv`` of
``python -m snakemake`` in that directory, and its output in files; then it calls ``snakemake.cli.main`` with the
arguments. Jobs are new processes, as in any run. ``tests/test_forked_snakemake.py`` compares it with a fresh
command line.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

#: What a ``python -m snakemake`` process imports before it reads the Snakefile: the fork server's preload (a
#: module it cannot import is imported by the run, as without the server).
PRELOAD = ("snakemake.cli", "snakemake.api", "snakemake.workflow", "snakemake.dag", "snakemake.persistence",
           "snakemake.scheduling.job_scheduler", "snakemake_executor_plugin_slurm", "target_rationale.planning")


def _interpreter_path() -> list[str]:
    """``sys.path`` of this interpreter started with no ``PYTHONPATH`` once it has imported Snakemake's command
    line (which appends its pip deployments' folder), less its first entry (the script's or current directory)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import json, sys; import snakemake.cli; print(json.dumps(sys.path[1:]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out)


def _child(argv: list[str], cwd: str, env: dict[str, str], base_path: list[str], stdout: str,
           stderr: str) -> None:
    """The run, in the forked child: a fresh session, directory, environment and ``sys.path``, then Snakemake."""
    os.setsid()
    for fd, path in ((1, stdout), (2, stderr)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [cwd, *extra, *base_path]
    for folder in extra:  # a sitecustomize on PYTHONPATH (the offline guard) runs as at a Python start-up
        if (Path(folder) / "sitecustomize.py").is_file():
            runpy.run_path(str(Path(folder) / "sitecustomize.py"), run_name="sitecustomize")
    import snakemake
    from snakemake.cli import main

    sys.argv = [str(Path(snakemake.__file__).with_name("__main__.py")), *argv]  # as ``python -m snakemake`` sets it
    main(argv)


_CONTEXT: multiprocessing.context.ForkServerContext | None = None
_BASE_PATH: list[str] = []


def _context() -> multiprocessing.context.ForkServerContext:
    """The fork server, started on first use with :data:`PRELOAD` and this module imported and one BLAS
    thread."""
    global _CONTEXT, _BASE_PATH
    if _CONTEXT is None:
        _BASE_PATH = _interpreter_path()
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([*PRELOAD, __name__])
        saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        try:
            from multiprocessing import forkserver

            forkserver.ensure_running()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        _CONTEXT = context
    return _CONTEXT


def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``snakemake *argv`` in ``cwd`` with environment ``env``; return it as ``subprocess.run`` would with
    ``capture_output=True, text=True`` (the process killed with its jobs and ``TimeoutExpired`` raised after
    ``timeout`` seconds)."""
    command = [sys.executable, "-m", "snakemake", *argv]
    with tempfile.TemporaryDirectory(prefix="snakemake-run-") as folder:
        stdout, stderr = str(Path(folder) / "stdout"), str(Path(folder) / "stderr")
        process = _context().Process(target=_child,
                                     args=(list(argv), str(cwd), dict(env), _BASE_PATH, stdout, stderr))
        process.start()
        process.join(timeout)
        timed_out = process.exitcode is None
        if timed_out:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.join()
        code = process.exitcode
        process.close()
        if timed_out:
            raise subprocess.TimeoutExpired(command, timeout)
        return subprocess.CompletedProcess(command, code, Path(stdout).read_text(errors="replace"),
                                           Path(stderr).read_text(errors="replace"))

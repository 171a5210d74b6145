"""The test suite's forked Snakemake runs (``forked_snakemake``) start as a fresh command line would: the same
``sys.path``, working directory, environment and offline guard; their own session; a timeout kills them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import forked_snakemake
import pytest
from conftest import OFFLINE, SNAKEMAKE

#: A Snakefile that records, as Snakemake parses it, what its process sees.
PROBE = """
import json, os, socket, sys
try:
    socket.create_connection(("127.0.0.1", int(os.environ["PROBE_PORT"])), timeout=5).close()
    network = "connected"
except OSError as err:
    network = str(err)
facts = {"sys_path": sys.path, "cwd": os.getcwd(), "probe": os.environ.get("PROBE"),
         "leaked": os.environ.get("PYTEST_CURRENT_TEST"), "network": network, "session": os.getsid(0),
         "argv": sys.argv}
with open("facts.json", "w") as handle:
    json.dump(facts, handle)

rule all:
    shell: "echo job-output"
"""


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def _environment(port: int) -> dict[str, str]:
    """The test process' environment less its ``PYTHONPATH`` and ``PYTEST_CURRENT_TEST`` (which the fork server
    inherited from the test that started it), with the offline guard and the probe's variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_CURRENT_TEST")}
    env.update(PROBE="yes", PROBE_PORT=str(port), PYTHONPATH=str(OFFLINE))
    return env


def test_a_forked_run_sees_what_a_fresh_command_line_sees(tmp_path: Path, listener: int) -> None:
    (tmp_path / "Snakefile").write_text(PROBE)
    arguments = ["-s", str(tmp_path / "Snakefile"), "--cores", "1", "--forceall"]
    forked = forked_snakemake.run(arguments, tmp_path, _environment(listener), timeout=120)
    assert forked.returncode == 0, forked.stderr[-3000:]
    seen = json.loads((tmp_path / "facts.json").read_text())
    fresh = subprocess.run([*SNAKEMAKE, *arguments], capture_output=True, text=True, timeout=120,
                           env=_environment(listener), cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    expected = json.loads((tmp_path / "facts.json").read_text())
    assert seen["sys_path"] == expected["sys_path"] and seen["sys_path"][0] == str(tmp_path)
    assert seen["cwd"] == expected["cwd"] == str(tmp_path)
    assert seen["argv"] == expected["argv"] and seen["argv"][1:] == arguments
    assert seen["probe"] == "yes" and seen["leaked"] is None
    assert "blocked by tests/offline/sitecustomize.py" in seen["network"] == expected["network"]
    assert seen["session"] != os.getsid(0)
    assert "job-output" in forked.stdout and "1 of 1 steps (100%) done" in forked.stderr


def test_a_failed_run_returns_its_code_and_message_on_the_same_stream(tmp_path: Path, listener: int) -> None:
    (tmp_path / "Snakefile").write_text('raise ValueError("no such sheet")\n')
    arguments = ["-s", str(tmp_path / "Snakefile"), "-n"]
    forked = forked_snakemake.run(arguments, tmp_path, _environment(listener), 120)
    fresh = subprocess.run([*SNAKEMAKE, *arguments], capture_output=True, text=True, timeout=120,
                           env=_environment(listener), cwd=tmp_path)
    assert forked.returncode == fresh.returncode == 1
    streams = [("no such sheet" in r.stdout, "no such sheet" in r.stderr) for r in (forked, fresh)]
    assert streams[0] == streams[1] and any(streams[0])
    assert forked.args[:3] == [sys.executable, "-m", "snakemake"]


def test_a_run_past_its_timeout_is_killed_with_its_jobs(tmp_path: Path, listener: int) -> None:
    (tmp_path / "Snakefile").write_text('rule all:\n    shell: "echo $$ > job.pid; sleep 60"\n')
    with pytest.raises(subprocess.TimeoutExpired):
        forked_snakemake.run(["-s", str(tmp_path / "Snakefile"), "--cores", "1"], tmp_path,
                             _environment(listener), timeout=8)
    job = Path("/proc", (tmp_path / "job.pid").read_text().strip(), "stat")
    assert not job.exists() or job.read_text().split(") ")[1][0] == "Z"  # gone, or dead and not yet reaped

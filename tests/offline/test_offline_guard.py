"""The two lines of defence that keep test runs offline: the Python guard (tests/offline/sitecustomize.py), which
refuses every way out from Python code, and a network namespace without a route out (``unshare -n``), which
refuses it from any process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import OFFLINE

GUARDED = "blocked by tests/offline/sitecustomize.py"


def run(code: str, guard: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -c code`` in a child, with the guard on PYTHONPATH (or without it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if guard:
        env["PYTHONPATH"] = str(OFFLINE)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def listeners() -> Iterator[dict[str, int]]:
    """A TCP listener and a UDP socket on 127.0.0.1 (their ports), so that each call below would succeed if the
    guard let it through."""
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        udp.bind(("127.0.0.1", 0))
        yield {"tcp": tcp.getsockname()[1], "udp": udp.getsockname()[1]}


CALLS = {
    "connect": "s = socket.socket(); s.connect(('127.0.0.1', {tcp}))",
    "connect_ex": "s = socket.socket(); assert s.connect_ex(('127.0.0.1', {tcp})) == 0",
    "connect_ex-ipv6": "s = socket.socket(socket.AF_INET6); s.connect_ex(('::1', {tcp}))",
    "connect-udp": "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('127.0.0.1', {udp}))",
    "sendto": "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('127.0.0.1', {udp}))",
    "sendto-flags": "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', 0, ('127.0.0.1', {udp}))",
    "sendmsg": "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendmsg([b'x'], [], 0, ('127.0.0.1', {udp}))",
    "getaddrinfo": "socket.getaddrinfo('localhost', 80)",
    "create_connection": "socket.create_connection(('localhost', {tcp}), timeout=5)",
    "gethostbyname": "socket.gethostbyname('localhost')",
    "gethostbyname_ex": "socket.gethostbyname_ex('localhost')",
    "gethostbyaddr": "socket.gethostbyaddr('127.0.0.1')",
    "getnameinfo": "socket.getnameinfo(('127.0.0.1', 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)",
}


@pytest.mark.parametrize("call", CALLS)
def test_guard_refuses_each_way_out(listeners: dict[str, int], call: str) -> None:
    code = "import socket\n" + CALLS[call].format(**listeners)
    refused = run(code)
    assert refused.returncode != 0 and GUARDED in refused.stderr, refused.stderr[-2000:]
    assert "OSError" in refused.stderr
    if call != "connect_ex-ipv6":  # the same call works without the guard: the guard is what refused it
        allowed = run(code, guard=False)
        assert allowed.returncode == 0, allowed.stderr[-2000:]


def test_guard_keeps_unix_sockets_and_multiprocessing(tmp_path) -> None:
    code = f"""
import multiprocessing, socket


def main():
    a, b = socket.socketpair()
    a.sendall(b"ping"); assert b.recv(4) == b"ping"
    path = {str(tmp_path / "unix.sock")!r}
    server = socket.socket(socket.AF_UNIX); server.bind(path); server.listen(2)
    client = socket.socket(socket.AF_UNIX); client.connect(path)
    other = socket.socket(socket.AF_UNIX); assert other.connect_ex(path) == 0
    peer, _ = server.accept(); client.sendall(b"pong"); assert peer.recv(4) == b"pong"
    peer.sendmsg([b"ok"]); assert client.recv(2) == b"ok"
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); dgram.bind(path + ".d")
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"dg", path + ".d"); assert dgram.recv(2) == b"dg"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.map(abs, [-1, -2]) == [1, 2]
    print(socket.gethostname() != "")


if __name__ == "__main__":
    main()
"""
    script = tmp_path / "unix.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(OFFLINE)}
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"


def test_guard_is_skipped_by_isolated_mode() -> None:
    """Why the guard is only the second line: ``python -I`` never imports sitecustomize (see its docstring)."""
    code = "import socket, sys; print('sitecustomize' in sys.modules, socket.gethostbyname('localhost'))"
    env = {**os.environ, "PYTHONPATH": str(OFFLINE)}
    isolated = subprocess.run([sys.executable, "-I", "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert isolated.stdout.split() == ["False", "127.0.0.1"]


# ---------------------------------------------------------------------------------------------------------------
# The first line: a network namespace


NAMESPACE_CHECK = """
import socket, time
started = time.monotonic()
try:
    socket.create_connection(("10.255.255.1", 9), timeout=20)
    print("connected")
except OSError as err:
    print("connect refused", err.errno, round(time.monotonic() - started, 3))
started = time.monotonic()
try:
    socket.getaddrinfo("example.org", 443)
    print("resolved")
except OSError as err:
    print("lookup refused", round(time.monotonic() - started, 3))
with socket.socket() as server:
    server.bind(("127.0.0.1", 0)); server.listen(1)
    with socket.create_connection(server.getsockname(), timeout=5) as client:
        peer, _ = server.accept(); client.sendall(b"lo"); print("loopback", peer.recv(2).decode())
"""


def namespace_unavailable() -> str | None:
    """Why ``unshare -n`` cannot be used here (None if it can)."""
    if os.geteuid() != 0:
        return "not root"
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"unshare -n fails: {probe.stderr.strip()[:200]}"
    return None


def test_network_namespace_has_no_route_out_but_loopback() -> None:
    why = namespace_unavailable()
    if why is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must check the network namespace (first line of defence), but {why}")
        pytest.skip(f"network namespace unavailable: {why}")
    # python -I: no sitecustomize, no PYTHONPATH; only the namespace stands between this child and the internet
    command = f"ip link set lo up && exec {sys.executable} -I -c '{NAMESPACE_CHECK}'"
    result = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    connect, lookup, loopback = result.stdout.splitlines()
    refused, errno, seconds = connect.rsplit(" ", 2)
    assert refused == "connect refused" and int(errno) == 101 and float(seconds) < 1  # ENETUNREACH, at once
    assert lookup.startswith("lookup refused") and float(lookup.split()[-1]) < 5
    assert loopback == "loopback lo"

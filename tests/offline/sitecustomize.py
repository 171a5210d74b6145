"""Put this folder on PYTHONPATH to forbid network connections in every Python process (tests only).

Internet and local TCP/UDP connections raise OSError; Unix sockets (used by multiprocessing) still work.
"""

import socket

_connect = socket.socket.connect


def _refuse(self, address, *args, **kwargs):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"network access blocked by tests/offline/sitecustomize.py: {address}")
    return _connect(self, address, *args, **kwargs)


def _no_lookup(*args, **kwargs):
    raise OSError(f"name lookup blocked by tests/offline/sitecustomize.py: {args[:2]}")


socket.socket.connect = _refuse
socket.getaddrinfo = _no_lookup

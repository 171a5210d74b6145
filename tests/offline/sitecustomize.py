"""Put this folder on PYTHONPATH to forbid network access in every Python process (tests only).

Refused with ``OSError`` ("... blocked by tests/offline/sitecustomize.py"): connecting an internet socket
(``connect``, ``connect_ex``; TCP or UDP, loopback included), sending a datagram to an address (``sendto``,
``sendmsg`` with an address), and every name or address lookup (``getaddrinfo``, ``gethostbyname``,
``gethostbyname_ex``, ``gethostbyaddr``, ``getnameinfo``). Unix sockets (used by multiprocessing) still work, and
so do internet sockets that are already connected (accepted by a local server).

This guard is the second line of defence, not the first. It is Python code that Python runs at start-up, so
anything that skips it gets through: ``python -I`` or ``-S`` (no ``sitecustomize``), a process that is not
Python (``curl``, ``R``), a C extension calling the C library itself, or code that resets ``socket``. The first
line is the operating system's: run the tests in a network namespace without a route out (``unshare -n``, as
root; then ``ip link set lo up`` for the local test servers), where every connection beyond loopback fails
whatever makes it. ``tests/offline/test_offline_guard.py`` checks both.
"""

import socket

#: Address families whose connections and datagrams are refused (Unix sockets are not among them).
BLOCKED_FAMILIES = tuple(getattr(socket, name) for name in ("AF_INET", "AF_INET6", "AF_PACKET")
                         if hasattr(socket, name))
GUARD = "tests/offline/sitecustomize.py"

_socket = socket.socket
_connect, _connect_ex = _socket.connect, _socket.connect_ex
_sendto, _sendmsg = _socket.sendto, _socket.sendmsg


def _blocked(what, detail):
    return OSError(f"{what} blocked by {GUARD}: {detail}")


def _refuse(self, address, *args, **kwargs):
    if self.family in BLOCKED_FAMILIES:
        raise _blocked("network access", address)
    return _connect(self, address, *args, **kwargs)


def _refuse_ex(self, address, *args, **kwargs):
    if self.family in BLOCKED_FAMILIES:
        raise _blocked("network access", address)
    return _connect_ex(self, address, *args, **kwargs)


def _no_sendto(self, data, *args):
    if self.family in BLOCKED_FAMILIES:  # sendto(data, address) or sendto(data, flags, address)
        raise _blocked("network access", args[-1] if args else None)
    return _sendto(self, data, *args)


def _no_sendmsg(self, buffers, *args):
    if self.family in BLOCKED_FAMILIES and len(args) >= 3 and args[2] is not None:  # (ancdata, flags, address)
        raise _blocked("network access", args[2])
    return _sendmsg(self, buffers, *args)


def _no_lookup(name):
    def refuse(*args, **kwargs):
        raise _blocked("name lookup", f"{name}{args[:2]}")
    refuse.__name__ = name
    return refuse


socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse_ex
socket.socket.sendto = _no_sendto
socket.socket.sendmsg = _no_sendmsg
for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
    setattr(socket, _name, _no_lookup(_name))

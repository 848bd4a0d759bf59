"""Port checks before llama-server starts: is the configured port free, and which one to use if not."""

from __future__ import annotations

import contextlib
import errno
import os
import socket

from llama_wrangler.errors import ServerError
from llama_wrangler.settings import PortConflict

LOOPBACK = "127.0.0.1"


def connect_host(host: str) -> str:
    """The address clients use to reach a server bound to ``host`` (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", ""):  # noqa: S104  (recognising the wildcard, not binding it)
        return LOOPBACK
    if host == "::":
        return "::1"
    return host


def url_host(host: str) -> str:
    """``host`` as it goes into a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _bind_socket(host: str, port: int) -> socket.socket:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            # llama-server (cpp-httplib) sets SO_REUSEADDR, so a port held only by TIME_WAIT leftovers of
            # our own health polls is free to it, and must be free to this test too. (On Windows the
            # option means "steal the port", so it stays off there.)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def port_is_free(host: str, port: int) -> bool:
    """True when ``port`` can be bound on ``host`` right now."""
    try:
        sock = _bind_socket(host, port)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1)):
            return False
        raise ServerError(f"Cannot use the server address {host}:{port}: {exc.strerror or exc}.",
                          hint="Check server.host in the settings.") from exc
    sock.close()
    return True


def pick_free_port(host: str) -> int:
    """A port the OS considers free on ``host`` now (it may be taken again before the server binds it;
    the server then exits during start and says so)."""
    try:
        with contextlib.closing(_bind_socket(host, 0)) as sock:
            port: int = sock.getsockname()[1]
    except OSError as exc:
        raise ServerError(f"Cannot find a free port on {host}: {exc.strerror or exc}.") from exc
    return port


def choose_port(host: str, port: int, policy: PortConflict) -> int:
    """The port to start on: ``port`` when free, else a free one or a :class:`ServerError` by ``policy``."""
    if port_is_free(host, port):
        return port
    if policy is PortConflict.PICK_FREE:
        return pick_free_port(host)
    raise ServerError(f"Port {port} on {host} is already in use by another program.",
                      hint="Choose another port in the settings, or let Llama Wrangler pick a free one.")

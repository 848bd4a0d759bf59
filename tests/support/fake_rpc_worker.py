"""A stand-in RPC worker that answers HELLO, DEVICE_COUNT and GET_DEVICE_MEMORY the way ggml-rpc-server
does, with a protocol version of our choosing — the one thing a real worker of another llama.cpp build
would differ in, and which we cannot build here. Everything else is tested against the real
``ggml-rpc-server``."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CONN_CAPS = 24


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        try:
            while True:
                head = _recv(sock, 9)
                command, size = struct.unpack("<BQ", head)
                payload = _recv(sock, size)
                if command == 14:  # HELLO
                    major, minor, patch = self.server.version
                    reply = bytes([major, minor, patch, 0]) + bytes(CONN_CAPS)
                elif command == 15:  # DEVICE_COUNT
                    reply = struct.pack("<I", len(self.server.devices))
                elif command == 11:  # GET_DEVICE_MEMORY
                    (index,) = struct.unpack("<I", payload)
                    reply = struct.pack("<QQ", *self.server.devices[index])
                else:
                    return
                sock.sendall(struct.pack("<Q", len(reply)) + reply)
        except (ConnectionError, OSError):
            return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    version: tuple[int, int, int]
    devices: list[tuple[int, int]]


def _recv(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data.extend(chunk)
    return bytes(data)


@contextmanager
def fake_worker(version: tuple[int, int, int], devices: list[tuple[int, int]] | None = None) -> Iterator[str]:
    """A worker on a free loopback port; yields its ``host:port``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.version = version
    server.devices = devices if devices is not None else [(6 * 10**9, 8 * 10**9)]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_listener() -> Iterator[str]:
    """Something that accepts connections and never answers (a worker busy with another client)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def banner_listener(banner: bytes = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") -> Iterator[str]:
    """Another service on the port: it greets every connection with its own banner."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = sock.accept()
            except OSError:
                continue
            with client:
                client.sendall(banner)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()
